/**
 * serverless.yml and infra/ as the tests read them: YAML with CloudFormation's short-form tags
 * (local/iam/yaml.ts), and the IAM policy statements of their roles. Shared by test/packaging.test.ts (grants against
 * the code) and test/iam-data.test.ts (grants against AWS's IAM data).
 */
import { readYaml } from '../../local/iam/yaml';

export { readYaml };

export const sls = readYaml('serverless.yml');
export const targetTemplate = readYaml('infra/cross-account-role.yaml');
export const resources: Record<string, any> = sls.resources.Resources;
export const functions: Record<string, any> = sls.functions;

export interface Statement {
  Sid?: string;
  Effect: string;
  Action: string | string[];
  Resource?: unknown;
  Principal?: unknown;
  Condition?: Record<string, Record<string, unknown>>;
}

export const actions = (s: Statement) => [s.Action].flat();
export const resourceList = (s: Statement) => (s.Resource === undefined ? [] : [s.Resource].flat());
/** Statements of a role's policies; a conditional one (`!If [cond, statement, AWS::NoValue]`) counts as present. */
export const rolePolicyStatements = (role: any): Statement[] =>
  (role.Properties.Policies ?? []).flatMap((p: any) => p.PolicyDocument.Statement).map((s: any) => (s['Fn::If'] ? s['Fn::If'][1] : s));

export interface PlacedStatement {
  /** File, logical id and `(trust)` for a trust policy. */
  where: string;
  file: 'serverless.yml' | 'infra/cross-account-role.yaml';
  statement: Statement;
}

/** Every IAM policy statement in serverless.yml (roles, provider-level) and the target-account template. */
export function everyStatement(): PlacedStatement[] {
  const out: PlacedStatement[] = [];
  const templates = [
    ['serverless.yml', resources],
    ['infra/cross-account-role.yaml', targetTemplate.Resources],
  ] as const;
  for (const [file, res] of templates) {
    for (const [id, resource] of Object.entries<any>(res)) {
      if (resource.Type === 'AWS::IAM::Role') {
        for (const statement of resource.Properties.AssumeRolePolicyDocument.Statement) out.push({ where: `${file} ${id} (trust)`, file, statement });
        for (const statement of rolePolicyStatements(resource)) out.push({ where: `${file} ${id}`, file, statement });
      }
      if (resource.Type === 'AWS::IAM::Policy' || resource.Type === 'AWS::IAM::ManagedPolicy') {
        for (const statement of resource.Properties.PolicyDocument.Statement) out.push({ where: `${file} ${id}`, file, statement });
      }
    }
  }
  for (const statement of sls.provider.iam?.role?.statements ?? []) out.push({ where: 'serverless.yml provider.iam', file: 'serverless.yml', statement });
  return out;
}
