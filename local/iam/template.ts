/**
 * CloudFormation's part of resolving a template: the intrinsic functions the bot's templates use,
 * for one account and region, into concrete IAM policies, names and ARNs. It runs on serverless.yml
 * once osls's variables are resolved (local/iam/stack.ts) as well as on the template `osls package`
 * writes, and both must give the same answer (test/local-iam-stack.test.ts).
 *
 * Supported: Ref (parameters, pseudo parameters, the resources below), Fn::GetAtt, Fn::Sub,
 * Fn::Join, Fn::Select, Fn::Split, Fn::If with the template's Conditions (Fn::Equals, Fn::Not,
 * Fn::And, Fn::Or), AWS::NoValue. Anything else throws with where it stands: an intrinsic resolved
 * wrongly would grant the local world something AWS would not, or the reverse.
 */
import type { PolicyDocument } from '../aws/policy';

export interface Template {
  Parameters?: Record<string, { Default?: string; AllowedPattern?: string }>;
  Conditions?: Record<string, unknown>;
  Resources: Record<string, { Type: string; Properties?: Record<string, any> }>;
}

export interface TemplateOptions {
  region: string;
  accountId: string;
  /** Values of the template's Parameters (their Default otherwise). */
  parameters?: Record<string, string>;
  /** Names the file in errors. */
  source?: string;
}

/** A resource's physical identity, as Ref and Fn::GetAtt see it. */
export interface PhysicalResource {
  type: string;
  name: string;
  arn: string;
  /** An SQS queue's URL (what its Ref gives). */
  url?: string;
}

export interface RoleModel {
  roleName: string;
  roleArn: string;
  trustPolicy: PolicyDocument;
  /** PolicyName → document. */
  inline: Record<string, PolicyDocument>;
}

export interface FunctionRole extends RoleModel {
  functionName: string;
  functionArn: string;
  roleLogicalId: string;
  environment: Record<string, string>;
}

export interface ResolvedTemplate {
  /** By the function's logical id (`WorkerLambdaFunction`). */
  functions: Record<string, FunctionRole>;
  /** Tables, queues and topics by logical id. */
  resources: Record<string, PhysicalResource>;
}

/** What a Ref gives and which attributes Fn::GetAtt knows, per resource type the templates reference. */
const RESOURCE_TYPES: Record<
  string,
  {
    nameProperty: string;
    describe(
      name: string,
      region: string,
      account: string,
      properties: Record<string, any>,
    ): { arn: string; ref: string; url?: string; attributes: Record<string, string> };
  }
> = {
  'AWS::DynamoDB::Table': {
    nameProperty: 'TableName',
    describe: (name, region, account) => {
      const arn = `arn:aws:dynamodb:${region}:${account}:table/${name}`;
      return { arn, ref: name, attributes: { Arn: arn } };
    },
  },
  'AWS::SQS::Queue': {
    nameProperty: 'QueueName',
    describe: (name, region, account) => {
      const arn = `arn:aws:sqs:${region}:${account}:${name}`;
      const url = `https://sqs.${region}.amazonaws.com/${account}/${name}`;
      return { arn, url, ref: url, attributes: { Arn: arn, QueueName: name, QueueUrl: url } };
    },
  },
  'AWS::SNS::Topic': {
    nameProperty: 'TopicName',
    describe: (name, region, account) => {
      const arn = `arn:aws:sns:${region}:${account}:${name}`;
      return { arn, ref: arn, attributes: { TopicArn: arn, TopicName: name } };
    },
  },
  'AWS::Lambda::Function': {
    nameProperty: 'FunctionName',
    describe: (name, region, account) => {
      const arn = `arn:aws:lambda:${region}:${account}:function:${name}`;
      return { arn, ref: name, attributes: { Arn: arn } };
    },
  },
  'AWS::Events::EventBus': {
    nameProperty: 'Name',
    describe: (name, region, account) => {
      const arn = `arn:aws:events:${region}:${account}:event-bus/${name}`;
      return { arn, ref: name, attributes: { Arn: arn, Name: name } };
    },
  },
  // Rules on the default bus only (a custom bus's name is part of the rule's ARN).
  'AWS::Events::Rule': {
    nameProperty: 'Name',
    describe: (name, region, account, properties) => {
      if (properties.EventBusName !== undefined) throw new Error(`rule ${name}: rules on a custom bus are not modelled here`);
      const arn = `arn:aws:events:${region}:${account}:rule/${name}`;
      return { arn, ref: name, attributes: { Arn: arn } };
    },
  },
  // Schedules: the group's Ref is its name (what each schedule's GroupName names).
  'AWS::Scheduler::ScheduleGroup': {
    nameProperty: 'Name',
    describe: (name, region, account) => {
      const arn = `arn:aws:scheduler:${region}:${account}:schedule-group/${name}`;
      return { arn, ref: name, attributes: { Arn: arn } };
    },
  },
  'AWS::IAM::Role': {
    nameProperty: 'RoleName',
    describe: (name, _region, account, properties) => {
      const arn = `arn:aws:iam::${account}:role${properties.Path ?? '/'}${name}`;
      return { arn, ref: name, attributes: { Arn: arn } };
    },
  },
};
/** The types `resources` lists (functions and roles have models of their own). */
const LISTED_TYPES = new Set(['AWS::DynamoDB::Table', 'AWS::SQS::Queue', 'AWS::SNS::Topic']);

const NO_VALUE = Symbol('AWS::NoValue');
/** A resource as Ref and Fn::GetAtt see it. */
type Described = PhysicalResource & { ref: string; attributes: Record<string, string> };

/** Resolves values of one template for one account and region. */
export class TemplateResolver {
  private readonly parameters: Record<string, string>;
  private readonly pseudo: Record<string, string>;
  private readonly conditions = new Map<string, boolean>();
  private readonly described = new Map<string, Described>();
  private readonly source: string;

  constructor(
    readonly template: Template,
    options: TemplateOptions,
  ) {
    this.source = options.source ?? 'template';
    this.pseudo = { 'AWS::Region': options.region, 'AWS::AccountId': options.accountId, 'AWS::Partition': 'aws', 'AWS::URLSuffix': 'amazonaws.com' };
    this.parameters = templateParameters(template, options.parameters ?? {}, this.source);
  }

  /** `value` with every intrinsic replaced; AWS::NoValue removes the property or list element. */
  resolve(value: unknown, path: string): unknown {
    const resolved = this.resolveOrNoValue(value, path);
    if (resolved === NO_VALUE) throw this.error(`AWS::NoValue where a value is required`, path);
    return resolved;
  }

  private resolveOrNoValue(value: unknown, path: string): unknown {
    if (Array.isArray(value)) return value.map((item, index) => this.resolveOrNoValue(item, `${path}[${index}]`)).filter((item) => item !== NO_VALUE);
    if (value === null || typeof value !== 'object') return value;
    const entries = Object.entries(value);
    const [first] = entries;
    if (entries.length === 1 && first && (first[0] === 'Ref' || first[0].startsWith('Fn::'))) return this.intrinsic(first[0], first[1], `${path}.${first[0]}`);
    return Object.fromEntries(entries.map(([key, item]) => [key, this.resolveOrNoValue(item, `${path}.${key}`)]).filter(([, item]) => item !== NO_VALUE));
  }

  private intrinsic(name: string, argument: any, path: string): unknown {
    switch (name) {
      case 'Ref':
        return this.ref(this.string(argument, path), path);
      case 'Fn::GetAtt': {
        const [logicalId, attribute] = typeof argument === 'string' ? argument.split(/\.(.*)/) : this.args(argument, path);
        return this.attribute(this.string(logicalId, path), this.string(attribute, path), path);
      }
      case 'Fn::Sub':
        return Array.isArray(argument) ? this.sub(argument[0], argument[1], path) : this.sub(argument, {}, path);
      case 'Fn::Join': {
        const [delimiter, items] = this.args(argument, path);
        return this.list(items, `${path}[1]`)
          .map((item, index) => this.string(item, `${path}[1][${index}]`))
          .join(this.string(delimiter, path));
      }
      case 'Fn::Select': {
        const [index, items] = this.args(argument, path);
        const list = this.list(items, `${path}[1]`);
        const at = Number(this.resolve(index, `${path}[0]`));
        if (!Number.isInteger(at) || at < 0 || at >= list.length) throw this.error(`index ${String(index)} outside a list of ${list.length}`, path);
        return list[at];
      }
      case 'Fn::Split': {
        const [delimiter, text] = this.args(argument, path);
        return this.string(this.resolve(text, `${path}[1]`), path).split(this.string(delimiter, path));
      }
      case 'Fn::If': {
        const [condition, whenTrue, whenFalse] = this.args(argument, path);
        return this.condition(this.string(condition, path), path)
          ? this.resolveOrNoValue(whenTrue, `${path}[1]`)
          : this.resolveOrNoValue(whenFalse, `${path}[2]`);
      }
      case 'Fn::Equals': {
        const [left, right] = this.args(argument, path);
        // CloudFormation compares the values as strings (YAML may read `true` as a boolean).
        return this.string(left, `${path}[0]`) === this.string(right, `${path}[1]`);
      }
      case 'Fn::Not':
        return !this.boolean(this.args(argument, path)[0], `${path}[0]`);
      case 'Fn::And':
        return this.args(argument, path)
          .map((item, index) => this.boolean(item, `${path}[${index}]`))
          .every(Boolean);
      case 'Fn::Or':
        return this.args(argument, path)
          .map((item, index) => this.boolean(item, `${path}[${index}]`))
          .some(Boolean);
      default:
        throw this.error(`unsupported intrinsic ${name}`, path);
    }
  }

  private ref(name: string, path: string): unknown {
    if (name === 'AWS::NoValue') return NO_VALUE;
    if (this.pseudo[name] !== undefined) return this.pseudo[name];
    if (this.parameters[name] !== undefined) return this.parameters[name];
    if (name.startsWith('AWS::')) throw this.error(`unsupported pseudo parameter ${name}`, path);
    return this.describe(name, path).ref;
  }

  private attribute(logicalId: string, attribute: string, path: string): string {
    const value = this.describe(logicalId, path).attributes[attribute];
    if (value === undefined) throw this.error(`unsupported attribute Fn::GetAtt ${logicalId}.${attribute}`, path);
    return value;
  }

  /** `${Name}` is a parameter, pseudo parameter or resource (Ref), `${Res.Attr}` an attribute, `${!Text}` the literal `${Text}`. */
  private sub(text: unknown, variables: unknown, path: string): string {
    const values = this.resolve(variables ?? {}, `${path}[1]`) as Record<string, unknown>;
    return this.string(text, path).replace(/\$\{([^}]*)\}/g, (_match, name: string) => {
      if (name.startsWith('!')) return `\${${name.slice(1)}}`;
      if (values[name] !== undefined) return this.string(values[name], `${path}[1].${name}`);
      const [logicalId, attribute] = name.split(/\.(.*)/);
      if (attribute !== undefined) return this.attribute(logicalId!, attribute, path);
      return this.string(this.ref(name, path), path);
    });
  }

  condition(name: string, path: string): boolean {
    const known = this.conditions.get(name);
    if (known !== undefined) return known;
    const definition = this.template.Conditions?.[name];
    if (definition === undefined) throw this.error(`unknown condition ${name}`, path);
    const value = this.boolean(definition, `Conditions.${name}`);
    this.conditions.set(name, value);
    return value;
  }

  /** The physical name, ARN, Ref and attributes of a resource, from its name property. */
  describe(logicalId: string, path: string): Described {
    const known = this.described.get(logicalId);
    if (known) return known;
    const resource = this.template.Resources[logicalId];
    if (!resource) throw this.error(`unknown resource or parameter ${logicalId}`, path);
    const kind = RESOURCE_TYPES[resource.Type];
    if (!kind) throw this.error(`${logicalId}: resources of type ${resource.Type} are not modelled`, path);
    const properties = resource.Properties ?? {};
    const namePath = `Resources.${logicalId}.Properties.${kind.nameProperty}`;
    // A generated physical name (no name property) cannot be known before a deployment.
    if (properties[kind.nameProperty] === undefined) throw this.error(`${logicalId} has no ${kind.nameProperty} (generated names are not modelled)`, namePath);
    const name = this.string(this.resolve(properties[kind.nameProperty], namePath), namePath);
    const description = { type: resource.Type, name, ...kind.describe(name, this.pseudo['AWS::Region']!, this.pseudo['AWS::AccountId']!, properties) };
    this.described.set(logicalId, description);
    return description;
  }

  /** The physical identity of every table, queue and topic of the template. */
  listedResources(): Record<string, PhysicalResource> {
    const out: Record<string, PhysicalResource> = {};
    for (const [logicalId, resource] of Object.entries(this.template.Resources)) {
      if (!LISTED_TYPES.has(resource.Type)) continue;
      const { type, name, arn, url } = this.describe(logicalId, `Resources.${logicalId}`);
      out[logicalId] = { type, name, arn, ...(url === undefined ? {} : { url }) };
    }
    return out;
  }

  /** A role's name, ARN, trust policy and inline policies, resolved. */
  role(logicalId: string): RoleModel {
    const path = `Resources.${logicalId}.Properties`;
    const resource = this.template.Resources[logicalId];
    if (resource?.Type !== 'AWS::IAM::Role') throw this.error(`${logicalId} is not an AWS::IAM::Role`, path);
    const properties = resource.Properties ?? {};
    // What else could grant the role something: the model would enforce less than AWS allows.
    for (const property of ['ManagedPolicyArns', 'PermissionsBoundary']) {
      if (properties[property] !== undefined) throw this.error(`${property} is not modelled`, `${path}.${property}`);
    }
    const attached = Object.entries(this.template.Resources).find(([, other]) => other.Type === 'AWS::IAM::Policy' || other.Type === 'AWS::IAM::ManagedPolicy');
    if (attached) throw this.error(`${attached[1].Type} resources are not modelled`, `Resources.${attached[0]}`);
    const { name, arn } = this.describe(logicalId, path);
    const policies = this.list(properties.Policies ?? [], `${path}.Policies`) as Array<{ PolicyName: string; PolicyDocument: PolicyDocument }>;
    return {
      roleName: name,
      roleArn: arn,
      trustPolicy: this.resolve(properties.AssumeRolePolicyDocument, `${path}.AssumeRolePolicyDocument`) as PolicyDocument,
      inline: Object.fromEntries(policies.map((policy) => [policy.PolicyName, policy.PolicyDocument])),
    };
  }

  /** A Lambda function (as osls compiles it) with its execution role, which must be a role of the template. */
  functionRole(logicalId: string): FunctionRole {
    const path = `Resources.${logicalId}.Properties`;
    const properties = this.template.Resources[logicalId]?.Properties ?? {};
    const role = properties.Role?.['Fn::GetAtt'] as unknown;
    if (!Array.isArray(role) || role[1] !== 'Arn' || typeof role[0] !== 'string') {
      throw this.error(`the function's Role must be Fn::GetAtt [<a role of this template>, Arn] to be modelled`, `${path}.Role`);
    }
    const environment = this.resolve(properties.Environment?.Variables ?? {}, `${path}.Environment.Variables`) as Record<string, unknown>;
    const { name, arn } = this.describe(logicalId, path);
    return {
      functionName: name,
      functionArn: arn,
      roleLogicalId: role[0],
      ...this.role(role[0]),
      environment: Object.fromEntries(Object.entries(environment).map(([key, value]) => [key, this.string(value, `${path}.Environment.Variables.${key}`)])),
    };
  }

  /** An intrinsic's arguments, unresolved: each is resolved when (and only if) it is used, so Fn::If leaves its other branch alone. */
  private args(argument: unknown, path: string): unknown[] {
    if (!Array.isArray(argument)) throw this.error(`expected a list of arguments, found ${JSON.stringify(argument)}`, path);
    return argument;
  }

  private list(value: unknown, path: string): unknown[] {
    const resolved = this.resolve(value, path);
    if (!Array.isArray(resolved)) throw this.error(`expected a list, found ${JSON.stringify(resolved)}`, path);
    return resolved;
  }

  private string(value: unknown, path: string): string {
    if (typeof value === 'string') return value;
    // YAML reads `1` or `true` as a number or a boolean where CloudFormation sees a string.
    if (typeof value === 'number' || typeof value === 'boolean') return String(value);
    const resolved = value !== null && typeof value === 'object' ? this.resolve(value, path) : value;
    if (typeof resolved === 'string') return resolved;
    throw this.error(`expected a string, found ${JSON.stringify(resolved)}`, path);
  }

  private boolean(value: unknown, path: string): boolean {
    const resolved = this.resolve(value, path);
    if (typeof resolved !== 'boolean') throw this.error(`expected a condition, found ${JSON.stringify(resolved)}`, path);
    return resolved;
  }

  private error(message: string, path: string): Error {
    return new Error(`${this.source}: ${message} at ${path}`);
  }
}

/** The template's Parameters: given values over defaults, each checked against its AllowedPattern as CloudFormation does. */
function templateParameters(template: Template, given: Record<string, string>, source: string): Record<string, string> {
  const declared = template.Parameters ?? {};
  for (const name of Object.keys(given)) if (!(name in declared)) throw new Error(`${source}: no parameter ${name}`);
  return Object.fromEntries(
    Object.entries(declared).map(([name, { Default, AllowedPattern }]) => {
      const value = given[name] ?? Default;
      if (value === undefined) throw new Error(`${source}: parameter ${name} has no value and no Default`);
      if (AllowedPattern && !new RegExp(AllowedPattern).test(value)) throw new Error(`${source}: parameter ${name}=${value} does not match ${AllowedPattern}`);
      return [name, value];
    }),
  );
}

/** Every Lambda function of a template with its role, and its tables, queues and topics, resolved. */
export function resolveTemplate(template: Template, options: TemplateOptions): ResolvedTemplate {
  const resolver = new TemplateResolver(template, options);
  const functions: Record<string, FunctionRole> = {};
  for (const [logicalId, resource] of Object.entries(template.Resources)) {
    if (resource.Type === 'AWS::Lambda::Function') functions[logicalId] = resolver.functionRole(logicalId);
  }
  return { functions, resources: resolver.listedResources() };
}
