import type { ParsedRequest } from '../commands/registry';
import { withLabels } from '../fleet/memory-catalog';
import type { LabelsOf } from '../fleet/types';
import { holdsPermissionHere, isAllowed, type AllowlistEntry, type Decision } from './roles';

/**
 * The decision on a parsed request, at the ingress and again in the worker (with a fresh entry). Every verb that needs a permission says against
 * what it is checked; a verb that does not, or a request that lacks the scope it needs, is refused.
 *
 * `labelsOf` gives the labels of the service the request names, for grants holding selectors. The
 * caller resolves them before: for a declared target from the configuration (declaredLabels); for a
 * catalog in DynamoDB, the ingress reads the alias the command names (one GetItem, in parallel
 * with the allowlist read, so the one-read budget holds) and passes a lookup of that result. An
 * alias it could not resolve has no labels, and no selector grant covers it.
 */
export function authorise(request: ParsedRequest, entry: AllowlistEntry | undefined, channelId: string, labelsOf?: LabelsOf): Decision {
  const { verb, scope } = request;
  if (!verb.permission) return { allowed: true };
  if (verb.checks === 'target') {
    if (!scope.target) return { allowed: false, reason: 'the request does not name the service it acts on' };
    return isAllowed(
      entry,
      verb.permission,
      withLabels(
        {
          channelId,
          service: scope.target,
          ...(scope.script ? { script: scope.script } : {}),
          ...(scope.wholeService ? { wholeService: true as const } : {}),
        },
        labelsOf,
      ),
    );
  }
  if (verb.checks === 'itself') {
    const held = holdsPermissionHere(entry, verb.permission, channelId);
    return held.allowed && verb.authorise ? verb.authorise(entry, scope, channelId, labelsOf) : held;
  }
  return { allowed: false, reason: `\`${verb.name}\` does not say what it is checked against` };
}
