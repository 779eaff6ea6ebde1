/**
 * Bootstraps and inspects the allowlist from a shell, with your own AWS credentials:
 *   npm run allowlist -- add --team T0123 --user U0456 --role admin [--services web,api|*] [--selector env=prod …] [--scripts a,b] [--channels C1,C2]
 *   npm run allowlist -- remove --team T0123 --user U0456
 *   npm run allowlist -- list --team T0123
 * The table comes from --table or ALLOWLIST_TABLE (the stack output `AllowlistTableName`).
 */
import { parseArgs } from 'node:util';
import { dynamoAllowlist } from '../src/auth/allowlist';
import { formatSelector, parseSelector } from '../src/fleet/selector';
import { addGrant, ALL, describeGrant, ROLES, type Grant, type Role } from '../src/auth/roles';

const USAGE = `usage: npm run allowlist -- <add|remove|list> --team T… [--user U… --role ${ROLES.join('|')} --services a,b|* --selector team=payments,env=prod … --scripts a,b --channels C1,C2] [--table NAME]`;

export async function main(argv: string[]): Promise<string> {
  const { positionals, values } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      team: { type: 'string' },
      user: { type: 'string' },
      role: { type: 'string' },
      services: { type: 'string' },
      selector: { type: 'string', multiple: true },
      scripts: { type: 'string' },
      channels: { type: 'string' },
      table: { type: 'string' },
      by: { type: 'string' },
    },
  });
  if (values.table) process.env.ALLOWLIST_TABLE = values.table;
  const [action] = positionals;
  const team = values.team;
  if (!team || !/^T[A-Z0-9]+$/.test(team)) throw new Error(`--team must be a Slack team id (T…)\n${USAGE}`);
  const list = (v: string | undefined) =>
    v
      ?.split(',')
      .map((s) => s.trim())
      .filter(Boolean);

  if (action === 'list') {
    const entries = await dynamoAllowlist.list(team);
    return entries.length ? entries.map((e) => `${e.userId}: ${e.grants.map((g) => describeGrant(g)).join('; ')}`).join('\n') : '(empty)';
  }
  const user = values.user;
  if (!user || !/^[UW][A-Z0-9]+$/.test(user)) throw new Error(`--user must be a Slack user id (U…)\n${USAGE}`);
  if (action === 'remove') {
    return (await dynamoAllowlist.remove(team, user)) ? `removed ${user}` : `${user} was not on the allowlist`;
  }
  if (action === 'add') {
    const role = values.role as Role | undefined;
    if (!role || !ROLES.includes(role)) throw new Error(`--role must be one of ${ROLES.join(', ')}\n${USAGE}`);
    // A selector is checked by the same grammar as in Slack (its error says what is wrong); with selectors only, no alias is granted.
    const selectors = (values.selector ?? []).map((text) => formatSelector(parseSelector(text)));
    const grant: Grant = {
      role,
      services: list(values.services) ?? (selectors.length ? [] : [ALL]),
      ...(selectors.length ? { selectors } : {}),
      ...(list(values.scripts) ? { scripts: list(values.scripts)! } : {}),
      ...(list(values.channels) ? { channels: list(values.channels)! } : {}),
    };
    // Only declared targets by alias: a service only the fleet's catalog knows is granted with
    // `/ecs allow` in Slack, which binds the grant to that service (src/auth/roles.ts `pins`); an
    // unbound grant here would cover no discovered service, so it is refused rather than stored inert.
    const aliases = grant.services.filter((s) => s !== ALL);
    if (aliases.length > 0) {
      const { loadConfigFile } = await import('./build');
      const declared = new Set(Object.keys(loadConfigFile().targets));
      const unknown = aliases.filter((a) => !declared.has(a));
      if (unknown.length > 0)
        throw new Error(
          `${unknown.map((a) => `\`${a}\``).join(', ')} ${unknown.length === 1 ? 'is not a target' : 'are not targets'} declared in the configuration (${process.env.ECS_CHATOPS_CONFIG ?? 'ecs-chatops.config.yaml'}). ` +
            'A service discovered into the fleet is granted from Slack with `/ecs allow`, which binds the grant to it; here, grant by `--selector` instead.',
        );
    }
    const existing = await dynamoAllowlist.get(team, user);
    const { grants, added } = addGrant(existing?.grants ?? [], grant);
    if (added)
      await dynamoAllowlist.put({ teamId: team, userId: user, grants, addedBy: values.by ?? 'cli', updatedAt: new Date().toISOString() }, existing ?? null);
    return `${user}: ${grants.map((g) => describeGrant(g)).join('; ')}${added ? '' : ' (already had that grant)'}`;
  }
  throw new Error(USAGE);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main(process.argv.slice(2)).then(
    (out) => console.log(out),
    (error: Error) => {
      console.error(error.message);
      process.exit(1);
    },
  );
}
