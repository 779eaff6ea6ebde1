/**
 * Which Lambda function is making an AWS call, in a local world where every function runs in one
 * process with one set of environment credentials.
 *
 * In AWS each function has its own execution role: its calls are signed with that role's session
 * credentials and IAM evaluates them against that role's policies. Locally the handlers share
 * `process.env` (and the SDK clients they cache), so the credentials cannot tell them apart.
 * Instead the local runtime runs each invocation inside `runAsFunction(name, …)`, and every HTTP
 * request started from it carries the function's name in one extra header, which the AWS emulator
 * and the DynamoDB front read to know whose role to evaluate. Production code is unchanged and
 * never sees the header: it is added below the SDK, on the wire, and only in the local world.
 *
 * How: the SDK's Node HTTP handler (@smithy/node-http-handler) takes `request` from the CommonJS
 * `node:http` module object when it first creates its agent, so replacing that property before
 * the local world makes any call is enough. (Node 20's `http.client.request.start` diagnostics
 * channel fires after the headers are sent, too late to add one.)
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { createRequire } from 'node:module';
import type { ClientRequest, RequestOptions } from 'node:http';

/** The header naming the calling function. Requests without it are the test's own (the account's admin). */
export const FUNCTION_HEADER = 'x-ecs-chatops-local-function';

const current = new AsyncLocalStorage<string>();

/** Runs `work` as function `name`: its AWS calls are evaluated against that function's role. */
export const runAsFunction = <T>(name: string, work: () => T): T => current.run(name, work);

/** The function running the current code, if any. */
export const currentFunction = (): string | undefined => current.getStore();

/** The calling function named by a request's headers. */
export const callingFunction = (headers: Record<string, string | string[] | undefined>): string | undefined => {
  const value = headers[FUNCTION_HEADER];
  return Array.isArray(value) ? value[0] : value;
};

let installed = false;

/** Tags every outgoing HTTP request made inside `runAsFunction` (idempotent; the local world calls it). */
export function tagRequestsWithFunction(): void {
  if (installed) return;
  installed = true;
  // The CommonJS module object, which the SDK reads (an ESM namespace's bindings are read-only).
  const http = createRequire(import.meta.url)('node:http') as typeof import('node:http');
  const original = http.request;
  const tagged = function request(this: unknown, ...args: unknown[]): ClientRequest {
    const name = current.getStore();
    if (name !== undefined) {
      // request(options[, cb]) or request(url[, options][, cb]): the options object carries the headers.
      const at = typeof args[0] === 'string' || args[0] instanceof URL ? 1 : 0;
      const options = (typeof args[at] === 'object' && args[at] !== null ? args[at] : {}) as RequestOptions;
      const withHeader = { ...options, headers: { ...(options.headers as Record<string, string> | undefined), [FUNCTION_HEADER]: name } };
      if (at === 1 && typeof args[1] !== 'object') args.splice(1, 0, withHeader);
      else args[at] = withHeader;
    }
    return (original as (...a: unknown[]) => ClientRequest).apply(this, args);
  } as typeof http.request;
  http.request = tagged;
}
