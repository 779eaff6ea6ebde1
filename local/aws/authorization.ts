/**
 * IAM as AWS evaluates it for the bot's own principals: each Lambda function acts as its execution
 * role, and a session it assumes (a target account's role) as that role. The local world tells the
 * authority which roles are enforced (the functions' roles and the target roles, with the policies
 * read from serverless.yml and infra/); every call an enforced principal makes, to the emulator or
 * to DynamoDB, is evaluated against that role's policies and refused as AWS refuses it.
 *
 * Principals the authority does not enforce (the test's own calls with the emulator's default
 * keys, roles seeded for other purposes) keep the emulator's old behaviour: only injected faults
 * deny them. Every enforced decision is kept, so a test can list what each function sent and
 * compare it with what it was granted.
 */
import { evaluate, type Decision, type SourcePolicy } from './policy';
import { roleDocuments } from './services/iam';
import type { EmulatorState, Identity } from './state';

export interface AuthorizationRequest {
  identity: Identity;
  /** The function whose invocation made the call (from the request's function header). */
  functionName?: string;
  /** IAM-style `service:Action`. */
  action: string;
  resource: string;
  /** Request-specific condition keys (`iam:PassedToService`, `kms:ViaService`, `aws:RequestTag/…`). */
  context?: Record<string, string[]>;
  /** The resource's own policy (a role's trust policy for sts:AssumeRole, a key policy). */
  resourcePolicy?: SourcePolicy;
  /** Account owning the resource, when it is not the caller's. */
  resourceOwner?: string;
}

export interface DecisionRecord {
  functionName?: string;
  roleArn: string;
  action: string;
  resource: string;
  decision: Decision;
}

/** What AWS says when IAM refuses a call (the message every service uses). */
export function accessDeniedMessage(request: Pick<AuthorizationRequest, 'identity' | 'action' | 'resource' | 'resourcePolicy'>, decision: Decision): string {
  const { identity, action, resource } = request;
  const why =
    decision === 'explicitDeny'
      ? `with an explicit deny in an identity-based policy`
      : request.resourcePolicy
        ? `because no resource-based policy allows the ${action} action`
        : `because no identity-based policy allows the ${action} action`;
  return `User: ${identity.arn} is not authorized to perform: ${action} on resource: ${resource} ${why}`;
}

export class Authority {
  /** Every decision about an enforced principal, in order. */
  readonly decisions: DecisionRecord[] = [];
  private readonly enforced = new Set<string>();
  /** Function name → the identity its calls carry (a session of its execution role). */
  private readonly functions = new Map<string, Identity>();

  constructor(private readonly state: EmulatorState) {}

  /** Calls made as this role (by a function, or with credentials assumed from it) are evaluated. */
  enforce(roleArn: string): void {
    this.enforced.add(roleArn);
  }

  /** Function `name` runs as `roleArn`: a role session named after the function, as Lambda's. */
  assignRole(functionName: string, roleArn: string): Identity {
    const role = this.state.findRole(roleArn);
    if (!role) throw new Error(`no role ${roleArn} for function ${functionName}`);
    const identity = this.state.issueCredentials(role, functionName).identity;
    this.functions.set(functionName, identity);
    this.enforce(roleArn);
    return identity;
  }

  roleOf(functionName: string): string | undefined {
    return this.functions.get(functionName)?.roleArn;
  }

  /**
   * Who made a call: credentials STS issued (an assumed target role) speak for themselves; the
   * environment's keys, which every local function shares, stand for the calling function's role.
   */
  identityFor(functionName: string | undefined, signedAs: Identity): Identity {
    if (signedAs.issuedAt) return signedAs;
    return (functionName && this.functions.get(functionName)) || signedAs;
  }

  /**
   * A call Lambda itself makes with a function's execution role (writing its logs, sending to its
   * on-failure destination, polling its event source): the same evaluation, recorded for the function.
   */
  decideAsFunction(functionName: string, action: string, resource: string): Decision | undefined {
    const identity = this.functions.get(functionName);
    return identity ? this.decide({ identity, functionName, action, resource }) : undefined;
  }

  isEnforced(identity: Identity): boolean {
    return identity.roleArn !== undefined && this.enforced.has(identity.roleArn);
  }

  /** The decision for an enforced principal (recorded), or undefined when the principal is not enforced. */
  decide(request: AuthorizationRequest): Decision | undefined {
    const { identity } = request;
    if (!this.isEnforced(identity)) return undefined;
    const roleArn = identity.roleArn!;
    const documents = roleDocuments(this.state, roleArn);
    const decision = documents
      ? evaluate(
          documents.policies,
          {
            action: request.action,
            resource: request.resource,
            principalArn: roleArn,
            principalAccount: identity.accountId,
            context: { ...globalContext(identity), ...request.context },
          },
          {
            ...(request.resourcePolicy ? { resourcePolicy: request.resourcePolicy } : {}),
            ...(request.resourceOwner ? { resourceOwner: request.resourceOwner } : {}),
          },
        ).decision
      : 'implicitDeny';
    this.decisions.push({
      ...(request.functionName ? { functionName: request.functionName } : {}),
      roleArn,
      action: request.action,
      resource: request.resource,
      decision,
    });
    return decision;
  }
}

/** The global condition keys AWS adds to every request of a role session. */
function globalContext(identity: Identity): Record<string, string[]> {
  const context: Record<string, string[]> = {
    'aws:PrincipalAccount': [identity.accountId],
    'aws:PrincipalType': ['AssumedRole'],
    'aws:userid': [identity.principalId],
  };
  if (identity.roleArn) context['aws:PrincipalArn'] = [identity.roleArn];
  if (identity.sourceIdentity) context['aws:SourceIdentity'] = [identity.sourceIdentity];
  for (const [key, value] of Object.entries(identity.sessionTags ?? {})) context[`aws:PrincipalTag/${key}`] = [value];
  return context;
}
