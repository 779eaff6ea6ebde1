/**
 * Discovery's AWS side with the SDK: Organizations from the bot's account, ECS in each account as
 * its target role, assumed per person as every other call of the bot (src/aws/credentials.ts).
 * SDK retries are off (maxAttempts 1): discovery backs off on throttling itself (discovery.ts),
 * so a run's calls in flight per account stay what it bounds them to.
 */
import { DescribeServicesCommand, ECSClient, ListClustersCommand, ListServicesCommand } from '@aws-sdk/client-ecs';
import {
  ListAccountsCommand,
  ListAccountsForParentCommand,
  ListTagsForResourceCommand,
  OrganizationsClient,
  type Account,
} from '@aws-sdk/client-organizations';
import { assumeRoleCredentials, type Actor } from '../aws/credentials';
import { Limiter } from '../aws/session';
import { RoleUnavailableError, withBackoff, type EcsReader, type FleetAws, type OrganizationAccount } from './discovery';

/** Organizations' own rate is low (a few calls per second): its tag reads go a few at a time. */
const ORGANIZATIONS_AT_ONCE = 4;

/**
 * An account's lifecycle state as Organizations gives it: `State` (ACTIVE, SUSPENDED,
 * PENDING_CLOSURE, CLOSED, PENDING_ACTIVATION); `Status`, retired on 2026-09-09 (the SDK's model),
 * only when State is absent. Undefined when it gave neither: discovery then does not look in it.
 */
export const accountState = (account: Pick<Account, 'State' | 'Status'>): string | undefined => account.State ?? account.Status;

/** `home`: the bot's region, where STS is called. */
export function sdkFleetAws(actor: Actor, home: string): FleetAws & { destroy(): void } {
  const clients: Array<{ destroy(): void }> = [];
  const organizations = new OrganizationsClient({ region: 'us-east-1', maxAttempts: 1 });
  clients.push(organizations);

  async function pages(list: (token?: string) => Promise<{ Accounts?: Account[]; NextToken?: string }>): Promise<Account[]> {
    const accounts: Account[] = [];
    let token: string | undefined;
    do {
      const page = await withBackoff(() => list(token));
      accounts.push(...(page.Accounts ?? []));
      token = page.NextToken;
    } while (token);
    return accounts;
  }

  return {
    async organizationAccounts({ organizationalUnits, withTags }) {
      const listed = organizationalUnits.length
        ? (
            await Promise.all(
              organizationalUnits.map((ParentId) => pages((NextToken) => organizations.send(new ListAccountsForParentCommand({ ParentId, NextToken })))),
            )
          ).flat()
        : await pages((NextToken) => organizations.send(new ListAccountsCommand({ NextToken })));
      const limiter = new Limiter(ORGANIZATIONS_AT_ONCE);
      return Promise.all(
        listed
          .filter((a) => a.Id)
          .map(async (a): Promise<OrganizationAccount> => {
            const state = accountState(a);
            const account = { id: a.Id!, ...(a.Name ? { name: a.Name } : {}), ...(state ? { state } : {}) };
            if (!withTags) return account;
            const out = await withBackoff(() => limiter.run(() => organizations.send(new ListTagsForResourceCommand({ ResourceId: a.Id! }))));
            return { ...account, tags: Object.fromEntries((out.Tags ?? []).map((t) => [t.Key ?? '', t.Value ?? ''])) };
          }),
      );
    },

    async assume(_accountId, roleArn) {
      const credentials = assumeRoleCredentials(roleArn, home, actor);
      try {
        await credentials();
      } catch (error) {
        // AccessDenied from STS: the role is missing, or does not trust the bot (AWS does not say which).
        if ((error as { name?: string }).name === 'AccessDenied') throw new RoleUnavailableError(roleArn, error);
        throw error;
      }
      return readersWith(credentials);
    },

    own: () => readersWith(undefined),

    destroy() {
      for (const client of clients.splice(0)) client.destroy();
    },
  };

  function readersWith(credentials: ReturnType<typeof assumeRoleCredentials> | undefined) {
    return (region: string): EcsReader => {
      const ecs = new ECSClient({ region, maxAttempts: 1, ...(credentials ? { credentials } : {}) });
      clients.push(ecs);
      return {
        listClusters: async (nextToken) => {
          const out = await ecs.send(new ListClustersCommand({ ...(nextToken ? { nextToken } : {}), maxResults: 100 }));
          return { clusterArns: out.clusterArns ?? [], ...(out.nextToken ? { nextToken: out.nextToken } : {}) };
        },
        listServices: async (cluster, nextToken) => {
          const out = await ecs.send(new ListServicesCommand({ cluster, maxResults: 100, ...(nextToken ? { nextToken } : {}) }));
          return { serviceArns: out.serviceArns ?? [], ...(out.nextToken ? { nextToken: out.nextToken } : {}) };
        },
        describeServices: async (cluster, services) => {
          const out = await ecs.send(new DescribeServicesCommand({ cluster, services, include: ['TAGS'] }));
          return (out.services ?? []).map((s) => ({
            serviceArn: s.serviceArn!,
            serviceName: s.serviceName!,
            ...(s.status ? { status: s.status } : {}),
            tags: s.tags ?? [],
          }));
        },
      };
    };
  }
}
