import type { ParsedRequest } from '../commands/registry';
import { holdsPermissionHere, isAllowed, type AllowlistEntry, type Decision } from './roles';

/**
 * The decision on a parsed request, at the ingress and again in the worker (with a fresh entry). Every verb that needs a permission says against
 * what it is checked; a verb that does not, or a request that lacks the scope it needs, is refused.
 */
export function authorise(request: ParsedRequest, entry: AllowlistEntry | undefined, channelId: string): Decision {
  const { verb, scope } = request;
  if (!verb.permission) return { allowed: true };
  if (verb.checks === 'target') {
    // A selector names no one service: the permission held here lets the request through, and the
    // worker checks it on each matching service (src/commands/fleet.ts), deny by default.
    if (scope.selector !== undefined && !scope.target) return holdsPermissionHere(entry, verb.permission, channelId);
    if (!scope.target) return { allowed: false, reason: 'the request does not name the service it acts on' };
    return isAllowed(entry, verb.permission, {
      channelId,
      service: scope.target,
      ...(scope.script ? { script: scope.script } : {}),
      ...(scope.wholeService ? { wholeService: true } : {}),
    });
  }
  if (verb.checks === 'itself') {
    const held = holdsPermissionHere(entry, verb.permission, channelId);
    return held.allowed && verb.authorise ? verb.authorise(entry, scope, channelId) : held;
  }
  return { allowed: false, reason: `\`${verb.name}\` does not say what it is checked against` };
}
