/**
 * A CloudFormation template checked against CloudFormation's own resource schemas, as the AWS CDK
 * packages them (@aws-cdk/aws-service-spec: every resource type, its properties, their types and
 * which are required, its Fn::GetAtt attributes). Offline: the database ships inside the package.
 *
 * What is checked, for every resource:
 * - its Type exists;
 * - every property it sets exists for that type (nested property types too), and every required one is set;
 * - each value has the type the schema says (string, number, integer, boolean, list, map, a nested
 *   type, a union of these; a string's allowed values where the schema lists them). An intrinsic
 *   function stands for a value: Ref, Fn::GetAtt, Fn::Sub, Fn::Join … where a scalar is expected,
 *   and anything but a string-producing function where a list or an object is; Fn::If is checked
 *   branch by branch. The types are the schemas' JSON types, strictly: a number written as a
 *   string fails here, although CloudFormation converts it for some (not all) resource types;
 * - its resource attributes (DependsOn, DeletionPolicy, Condition, …) are CloudFormation's and name
 *   what exists.
 * And everywhere in the template (properties, policy documents, outputs): every Ref names a
 * resource, a parameter or a pseudo parameter; every Fn::GetAtt (also `${X.Attr}` in Fn::Sub) names
 * a resource and an attribute its type has; every condition used is declared.
 */
import { loadAwsServiceSpecSync } from '@aws-cdk/aws-service-spec';

type PropType =
  | { type: 'string'; allowedValues?: string[] }
  | { type: 'integer'; allowedValues?: number[] }
  | { type: 'number' | 'boolean' | 'json' | 'date-time' | 'null' | 'tag' }
  | { type: 'ref'; reference: { $ref: string } }
  | { type: 'array' | 'map'; element: PropType }
  | { type: 'union'; types: PropType[] };
interface Prop {
  type: PropType;
  required?: boolean;
}
interface SpecResource {
  cloudFormationType: string;
  properties: Record<string, Prop>;
  attributes: Record<string, unknown>;
}

export type SpecDatabase = ReturnType<typeof loadAwsServiceSpecSync>;
let cached: SpecDatabase | undefined;
/** The schema database (about a second to load; once per test file). */
export const specDatabase = (): SpecDatabase => (cached ??= loadAwsServiceSpecSync());

const PSEUDO_PARAMETERS = [
  'AWS::AccountId',
  'AWS::NotificationARNs',
  'AWS::NoValue',
  'AWS::Partition',
  'AWS::Region',
  'AWS::StackId',
  'AWS::StackName',
  'AWS::URLSuffix',
];
const RESOURCE_ATTRIBUTES = [
  'Type',
  'Properties',
  'DependsOn',
  'DeletionPolicy',
  'UpdateReplacePolicy',
  'Condition',
  'Metadata',
  'CreationPolicy',
  'UpdatePolicy',
];
const DELETION_POLICIES = ['Delete', 'Retain', 'RetainExceptOnCreate', 'Snapshot'];
const FUNCTIONS = [
  'Ref',
  'Condition',
  'Fn::GetAtt',
  'Fn::Sub',
  'Fn::Join',
  'Fn::Select',
  'Fn::Split',
  'Fn::If',
  'Fn::ImportValue',
  'Fn::FindInMap',
  'Fn::Base64',
  'Fn::GetAZs',
  'Fn::Cidr',
  'Fn::Equals',
  'Fn::Not',
  'Fn::And',
  'Fn::Or',
  'Fn::ToJsonString',
  'Fn::Length',
];
/** Functions whose value is always a string: never a list or an object. */
const STRING_FUNCTIONS = ['Fn::Sub', 'Fn::Join', 'Fn::Base64', 'Fn::ToJsonString'];

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
/** The intrinsic function an object is (`{ "Fn::Sub": … }`), if it is one. */
function intrinsic(value: unknown): string | undefined {
  if (!isObject(value)) return undefined;
  const keys = Object.keys(value);
  return keys.length === 1 && FUNCTIONS.includes(keys[0]!) ? keys[0] : undefined;
}

export class TemplateValidator {
  readonly errors: string[] = [];
  private readonly resources: Record<string, any>;
  private readonly parameters: Record<string, any>;
  private readonly conditions: Record<string, unknown>;

  constructor(
    private readonly template: Record<string, any>,
    private readonly db: SpecDatabase = specDatabase(),
  ) {
    this.resources = template.Resources ?? {};
    this.parameters = template.Parameters ?? {};
    this.conditions = template.Conditions ?? {};
  }

  /** All the template's errors, one line each (none: the template is valid as far as the schemas say). */
  validate(): string[] {
    for (const [id, resource] of Object.entries(this.resources)) this.resource(id, resource);
    this.references(this.template, 'template');
    return this.errors;
  }

  private fail(path: string, message: string): void {
    this.errors.push(`${path}: ${message}`);
  }

  private spec(type: string): SpecResource | undefined {
    const found = this.db.lookup('resource', 'cloudFormationType', 'equals', type);
    return found.length === 1 ? (found[0] as unknown as SpecResource) : undefined;
  }

  private resource(id: string, resource: Record<string, any>): void {
    const path = `Resources.${id}`;
    for (const key of Object.keys(resource)) if (!RESOURCE_ATTRIBUTES.includes(key)) this.fail(path, `unknown resource attribute ${key}`);
    for (const key of ['DeletionPolicy', 'UpdateReplacePolicy']) {
      if (key in resource && !DELETION_POLICIES.includes(resource[key]))
        this.fail(`${path}.${key}`, `${JSON.stringify(resource[key])} is not one of ${DELETION_POLICIES.join(', ')}`);
    }
    for (const dependency of [resource.DependsOn ?? []].flat()) {
      if (!(dependency in this.resources)) this.fail(`${path}.DependsOn`, `no resource ${dependency}`);
    }
    if (resource.Condition !== undefined && !(resource.Condition in this.conditions)) this.fail(`${path}.Condition`, `no condition ${resource.Condition}`);
    const spec = typeof resource.Type === 'string' ? this.spec(resource.Type) : undefined;
    if (!spec) return this.fail(`${path}.Type`, `${JSON.stringify(resource.Type)} is not a CloudFormation resource type`);
    if (resource.Properties !== undefined && !isObject(resource.Properties)) return this.fail(`${path}.Properties`, 'must be an object');
    this.object(resource.Properties ?? {}, spec.properties, `${path}.Properties`);
  }

  /** An object against the properties of a resource or of a nested type. */
  private object(value: Record<string, unknown>, properties: Record<string, Prop>, path: string): void {
    for (const [name, property] of Object.entries(value)) {
      const spec = properties[name];
      if (!spec) this.fail(path, `unknown property ${name} (known: ${Object.keys(properties).sort().join(', ')})`);
      else this.value(property, spec.type, `${path}.${name}`);
    }
    for (const [name, spec] of Object.entries(properties)) if (spec.required && !(name in value)) this.fail(path, `required property ${name} is missing`);
  }

  /** One value against its type; the errors it would add, without adding them (for unions). */
  private errorsOf(value: unknown, type: PropType, path: string): string[] {
    const before = this.errors.length;
    this.value(value, type, path);
    return this.errors.splice(before);
  }

  private value(value: unknown, type: PropType, path: string): void {
    const fn = intrinsic(value);
    if (fn === 'Fn::If') {
      const branches = (value as any)['Fn::If'];
      if (!Array.isArray(branches) || branches.length !== 3) return this.fail(path, 'Fn::If takes [condition, then, else]');
      for (const [i, branch] of [branches[1], branches[2]].entries()) {
        if (!(isObject(branch) && branch.Ref === 'AWS::NoValue')) this.value(branch, type, `${path}[Fn::If ${i === 0 ? 'then' : 'else'}]`);
      }
      return;
    }
    if (fn) {
      const structured = type.type === 'array' || type.type === 'map' || type.type === 'ref' || type.type === 'tag';
      if (structured && STRING_FUNCTIONS.includes(fn))
        this.fail(path, `${fn} makes a string, but a ${type.type === 'ref' ? 'nested object' : type.type} is expected`);
      return; // otherwise a value CloudFormation works out at deploy time
    }
    switch (type.type) {
      case 'string':
      case 'date-time':
        if (typeof value !== 'string') return this.fail(path, `expected a string, found ${JSON.stringify(value)}`);
        if (type.type === 'string' && type.allowedValues?.length && !type.allowedValues.includes(value))
          this.fail(path, `${JSON.stringify(value)} is not one of ${type.allowedValues.join(', ')}`);
        return;
      case 'number':
        if (typeof value !== 'number') this.fail(path, `expected a number, found ${JSON.stringify(value)}`);
        return;
      case 'integer':
        if (!Number.isInteger(value)) return this.fail(path, `expected an integer, found ${JSON.stringify(value)}`);
        if (type.allowedValues?.length && !type.allowedValues.includes(value as number))
          this.fail(path, `${value} is not one of ${type.allowedValues.join(', ')}`);
        return;
      case 'boolean':
        if (typeof value !== 'boolean') this.fail(path, `expected a boolean, found ${JSON.stringify(value)}`);
        return;
      case 'null':
        if (value !== null) this.fail(path, `expected null, found ${JSON.stringify(value)}`);
        return;
      case 'json':
        return; // a policy document or any JSON: its intrinsics are checked by references()
      case 'tag':
        if (!isObject(value) || !('Key' in value) || !('Value' in value)) return this.fail(path, 'expected a tag { Key, Value }');
        this.value(value.Key, { type: 'string' }, `${path}.Key`);
        this.value(value.Value, { type: 'string' }, `${path}.Value`);
        return;
      case 'array':
        if (!Array.isArray(value)) return this.fail(path, `expected a list, found ${JSON.stringify(value)}`);
        value.forEach((element, i) => this.value(element, type.element, `${path}[${i}]`));
        return;
      case 'map':
        if (!isObject(value)) return this.fail(path, `expected a map, found ${JSON.stringify(value)}`);
        for (const [key, element] of Object.entries(value)) this.value(element, type.element, `${path}.${key}`);
        return;
      case 'ref': {
        const definition = this.db.get('typeDefinition', type.reference.$ref) as unknown as { name: string; properties: Record<string, Prop> };
        if (!isObject(value)) return this.fail(path, `expected a ${definition.name} object, found ${JSON.stringify(value)}`);
        this.object(value, definition.properties, path);
        return;
      }
      case 'union': {
        const attempts = type.types.map((t) => this.errorsOf(value, t, path));
        if (attempts.some((errors) => errors.length === 0)) return;
        // The closest type's errors: the attempt that got furthest (fewest complaints).
        this.errors.push(...attempts.sort((a, b) => a.length - b.length)[0]!);
        return;
      }
    }
  }

  private refTarget(name: string, path: string, extra: string[] = []): void {
    if (!(name in this.resources) && !(name in this.parameters) && !PSEUDO_PARAMETERS.includes(name) && !extra.includes(name)) {
      this.fail(path, `${name} is not a resource, a parameter or a pseudo parameter`);
    }
  }

  private getAtt(id: string, attribute: string, path: string): void {
    const resource = this.resources[id];
    if (!resource) return this.fail(path, `Fn::GetAtt of ${id}, which is not a resource`);
    const spec = typeof resource.Type === 'string' ? this.spec(resource.Type) : undefined;
    if (spec && !(attribute in spec.attributes))
      this.fail(path, `${resource.Type} has no attribute ${attribute} (has: ${Object.keys(spec.attributes).sort().join(', ')})`);
  }

  /** Every intrinsic function anywhere below `node`: what it names must exist. */
  private references(node: unknown, path: string): void {
    if (Array.isArray(node)) return node.forEach((element, i) => this.references(element, `${path}[${i}]`));
    if (!isObject(node)) return;
    const fn = intrinsic(node);
    const arg = fn ? node[fn] : undefined;
    if (fn === 'Ref' && typeof arg === 'string') this.refTarget(arg, path);
    if (fn === 'Fn::GetAtt') {
      const [id, ...attribute] = Array.isArray(arg) ? arg : String(arg).split('.');
      if (typeof id === 'string' && typeof attribute[0] === 'string') this.getAtt(id, attribute.join('.'), path);
      else this.fail(path, `malformed Fn::GetAtt ${JSON.stringify(arg)}`);
    }
    if (fn === 'Fn::Sub') {
      const [text, variables] = Array.isArray(arg) ? [arg[0], arg[1] ?? {}] : [arg, {}];
      if (typeof text !== 'string') this.fail(path, 'Fn::Sub needs a string');
      else {
        for (const match of text.matchAll(/\$\{([^!}][^}]*)\}/g)) {
          const name = match[1]!.trim();
          if (name in variables) continue;
          if (name.includes('.') && !name.startsWith('AWS::')) {
            const [id, ...attribute] = name.split('.');
            this.getAtt(id!, attribute.join('.'), `${path} \${${name}}`);
          } else this.refTarget(name, `${path} \${${name}}`);
        }
      }
    }
    if (fn === 'Fn::If' || fn === 'Condition') {
      const condition = fn === 'Fn::If' ? (Array.isArray(arg) ? arg[0] : undefined) : arg;
      if (typeof condition !== 'string' || !(condition in this.conditions)) this.fail(path, `${fn} names no declared condition (${JSON.stringify(condition)})`);
    }
    for (const [key, value] of Object.entries(node)) this.references(value, `${path}.${key}`);
  }
}

export const validateTemplate = (template: Record<string, any>, db?: SpecDatabase): string[] => new TemplateValidator(template, db).validate();
