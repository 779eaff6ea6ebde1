/**
 * osls (Serverless Framework v3) variables, as `osls package` resolves them in serverless.yml:
 * `${self:…}`, `${sls:stage}`, `${opt:stage, 'dev'}`, `${param:…}`, nested ones inner first.
 * Only the sources serverless.yml uses; any other (`${ssm:…}`, `${env:…}`, …) throws with its text,
 * so a new kind of variable in the file is noticed here rather than resolved wrongly.
 *
 * Like osls, a `${…}` counts as a variable only when a lowercase source name and a colon open it:
 * `${AWS::Region}` or `${HttpApi}` inside a `!Sub` are CloudFormation's, and are left for it.
 */

export interface VariableOptions {
  /** `--stage`, `--region`: what `${opt:stage}` / `${opt:region}` read. */
  stage: string;
  region: string;
  /** `--param="name=value"`: over `params.<stage>` over `params.default`. */
  params?: Record<string, string>;
}

export interface ResolvedConfig {
  /** serverless.yml with every osls variable replaced (except `params`, see `params`). */
  config: Record<string, any>;
  /** Every param in force for the stage, resolved. */
  params: Record<string, string>;
}

/** Innermost first: the address holds no `$`, `{` or `}`, so nested variables resolve from inside out. */
const INNERMOST_VARIABLE = /\$\{([a-z][a-zA-Z0-9]*):([^${}]*)\}/;
/** osls resolves a self reference to a self reference…; a cycle in the file would never end. */
const MAX_DEPTH = 20;

export function resolveVariables(raw: Record<string, any>, options: VariableOptions): ResolvedConfig {
  const rawParams = (raw.params ?? {}) as Record<string, Record<string, unknown> | undefined>;

  function resolveString(text: string, path: string, depth: number): string {
    if (depth > MAX_DEPTH) throw new Error(`serverless.yml ${path}: variables nest deeper than ${MAX_DEPTH} (a cycle?): ${text}`);
    let out = text;
    for (let match = INNERMOST_VARIABLE.exec(out); match; match = INNERMOST_VARIABLE.exec(out)) {
      const value = source(match[0], match[1]!, match[2]!, path, depth);
      out = out.slice(0, match.index) + value + out.slice(match.index + match[0].length);
    }
    return out;
  }

  /** One variable's value: `address` is what follows `type:`, with `, 'fallback'` if any. */
  function source(text: string, type: string, address: string, path: string, depth: number): string {
    const [name = '', ...fallbacks] = address.split(',').map((part) => part.trim());
    const fallback = fallbacks.length ? literal(fallbacks[0]!, text, path) : undefined;
    const found = lookup(text, type, name, path, depth);
    if (found !== undefined) return found;
    if (fallback !== undefined) return fallback;
    throw new Error(`serverless.yml ${path}: cannot resolve ${text}`);
  }

  function lookup(text: string, type: string, name: string, path: string, depth: number): string | undefined {
    switch (type) {
      case 'self':
        return selfValue(name, path, depth);
      case 'sls':
        if (name === 'stage') return selfValue('provider.stage', path, depth);
        break;
      case 'opt': // an option not given falls back, as on osls's command line
        return name === 'stage' ? options.stage : name === 'region' ? options.region : undefined;
      case 'param':
        return param(name, path, depth);
    }
    throw new Error(`serverless.yml ${path}: unknown variable ${text} (not modelled in local/iam/variables.ts)`);
  }

  function selfValue(dotted: string, path: string, depth: number): string | undefined {
    let node: unknown = raw;
    for (const key of dotted.split('.')) node = node !== null && typeof node === 'object' ? (node as Record<string, unknown>)[key] : undefined;
    if (node === undefined) return undefined;
    if (typeof node !== 'string' && typeof node !== 'number' && typeof node !== 'boolean') {
      throw new Error(`serverless.yml ${path}: \${self:${dotted}} is not a scalar (not modelled)`);
    }
    return resolveString(String(node), `${path} → self:${dotted}`, depth + 1);
  }

  function param(name: string, path: string, depth: number): string | undefined {
    if (options.params?.[name] !== undefined) return options.params[name];
    const value = rawParams[options.stage]?.[name] ?? rawParams.default?.[name];
    return value === undefined ? undefined : resolveString(String(value), `${path} → param:${name}`, depth + 1);
  }

  /** A value that is one `${self:…}` and nothing else takes the referenced value whole, an object or a list too (as osls does). */
  function wholeSelfReference(text: string): unknown {
    const whole = /^\$\{self:([^${}, ]+)\}$/.exec(text);
    if (!whole) return undefined;
    let node: unknown = raw;
    for (const key of whole[1]!.split('.')) node = node !== null && typeof node === 'object' ? (node as Record<string, unknown>)[key] : undefined;
    return node !== null && typeof node === 'object' ? node : undefined;
  }

  function walk(value: unknown, path: string): unknown {
    const referenced = typeof value === 'string' ? wholeSelfReference(value) : undefined;
    if (referenced !== undefined) return walk(referenced, `${path} → ${String(value)}`);
    if (typeof value === 'string') return resolveString(value, path, 0);
    if (Array.isArray(value)) return value.map((item, index) => walk(item, `${path}[${index}]`));
    if (value !== null && typeof value === 'object')
      return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, walk(item, path ? `${path}.${key}` : key)]));
    return value;
  }

  // `params` is left out of the walk: other stages' params may use what this stage cannot resolve
  // (osls defers them too); the params in force are resolved one by one instead.
  const { params: _params, ...rest } = raw;
  const names = new Set([...Object.keys(rawParams.default ?? {}), ...Object.keys(rawParams[options.stage] ?? {}), ...Object.keys(options.params ?? {})]);
  return {
    config: walk(rest, '') as Record<string, any>,
    params: Object.fromEntries([...names].map((name) => [name, param(name, `params.${name}`, 0)!])),
  };
}

/** A fallback is a quoted string in serverless.yml (`'dev'`); other forms are not modelled. */
function literal(text: string, variable: string, path: string): string {
  const quoted = /^'([^']*)'$|^"([^"]*)"$/.exec(text);
  if (!quoted) throw new Error(`serverless.yml ${path}: unsupported fallback ${text} in ${variable}`);
  return quoted[1] ?? quoted[2]!;
}
