import {
  DescribeOrganizationCommand,
  ListAccountsCommand,
  ListAccountsForParentCommand,
  ListTagsForResourceCommand,
  OrganizationsClient,
  type Account,
} from '@aws-sdk/client-organizations';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startAwsEmulator, type AwsEmulator } from '../local/aws';
import { seedFleet } from '../local/aws/seed-fleet';
import { putRole, trustPolicy } from '../local/aws/services/iam';
import { createOrganization, organizationOf, putOrganizationAccount, putOrganizationalUnit } from '../local/aws/services/organizations';

/** AWS Organizations in the emulator through the SDK: paging, its errors as AWS returns them, IAM on its resources. */
const MANAGEMENT = '111111111111';
let emu: AwsEmulator;
const clients: OrganizationsClient[] = [];

function client(credentials = { accessKeyId: 'AKIDTEST', secretAccessKey: 'x' } as { accessKeyId: string; secretAccessKey: string; sessionToken?: string }) {
  const c = new OrganizationsClient({ region: 'us-east-1', endpoint: emu.url, credentials, maxAttempts: 1 });
  clients.push(c);
  return c;
}

/** Credentials of an enforced role in `account` allowed `actions` on `resource`. */
function roleSession(account: string, name: string, actions: string[], resource = '*') {
  const role = putRole(emu.state, account, name, {
    trust: trustPolicy({ Service: 'lambda.amazonaws.com' }),
    inline: { org: { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: actions, Resource: resource }] } },
  });
  emu.authority.enforce(role.arn);
  const issued = emu.state.issueCredentials(role, 'test', { issuedAt: emu.clock.date(), expiration: emu.clock.date(3_600_000) });
  return { accessKeyId: issued.accessKeyId, secretAccessKey: issued.secretAccessKey, sessionToken: issued.sessionToken! };
}

async function allAccounts(org: OrganizationsClient, maxResults?: number): Promise<{ accounts: Account[]; pages: number }> {
  const accounts: Account[] = [];
  let NextToken: string | undefined;
  let pages = 0;
  do {
    const out = await org.send(new ListAccountsCommand({ NextToken, ...(maxResults ? { MaxResults: maxResults } : {}) }));
    accounts.push(...(out.Accounts ?? []));
    NextToken = out.NextToken;
    pages++;
  } while (NextToken);
  return { accounts, pages };
}

beforeEach(async () => {
  emu = await startAwsEmulator({ seed: false });
});
afterEach(async () => {
  for (const c of clients.splice(0)) c.destroy();
  await emu.close();
});

describe('AWS Organizations in the emulator', () => {
  it('lists every account in pages of at most 20, the management account first, with ids, ARNs and State (not the retired Status)', async () => {
    const fleet = seedFleet(emu.state, { accounts: 45, regions: ['us-east-1'] });
    const { accounts, pages } = await allAccounts(client());
    expect(pages).toBe(3);
    expect(accounts.map((a) => a.Id)).toEqual([MANAGEMENT, ...fleet.accounts.map((a) => a.id)]);
    expect(accounts[1]).toMatchObject({
      Id: '300000000001',
      Name: 'fleet-001',
      State: 'ACTIVE',
      Arn: `arn:aws:organizations::${MANAGEMENT}:account/${fleet.organizationId}/300000000001`,
    });
    expect(accounts.every((a) => a.Status === undefined)).toBe(true);
    expect((await allAccounts(client(), 7)).pages).toBe(7);
  });

  it("gives each account's lifecycle State, every value of the SDK's AccountState, and no Status (retired on 2026-09-09)", async () => {
    createOrganization(emu.state, MANAGEMENT);
    const states = ['SUSPENDED', 'PENDING_CLOSURE', 'CLOSED', 'PENDING_ACTIVATION'] as const;
    states.forEach((state, i) => putOrganizationAccount(emu.state, { id: `30000000010${i}`, name: state.toLowerCase(), state }));
    const { accounts } = await allAccounts(client());
    expect(accounts.map((a) => [a.Id, a.State, a.Status])).toEqual([
      [MANAGEMENT, 'ACTIVE', undefined],
      ...states.map((state, i) => [`30000000010${i}`, state, undefined]),
    ]);
  });

  it('refuses MaxResults beyond 20 and a forged NextToken with InvalidInputException and its reason', async () => {
    seedFleet(emu.state, { accounts: 3, regions: ['us-east-1'] });
    await expect(client().send(new ListAccountsCommand({ MaxResults: 21 }))).rejects.toMatchObject({
      name: 'InvalidInputException',
      Reason: 'MAX_VALUE_EXCEEDED',
    });
    await expect(client().send(new ListAccountsCommand({ NextToken: 'not-a-token' }))).rejects.toMatchObject({
      name: 'InvalidInputException',
      Reason: 'INVALID_PAGINATION_TOKEN',
    });
  });

  it('lists the accounts of one OU, and says ParentNotFoundException for an OU that does not exist', async () => {
    const fleet = seedFleet(emu.state, { accounts: 6, regions: ['us-east-1'] });
    const out = await client().send(new ListAccountsForParentCommand({ ParentId: fleet.units.prod }));
    expect(out.Accounts?.map((a) => a.Id)).toEqual(fleet.accounts.filter((a) => a.ou === 'prod').map((a) => a.id));
    await expect(client().send(new ListAccountsForParentCommand({ ParentId: 'ou-abcd-12345678' }))).rejects.toMatchObject({
      name: 'ParentNotFoundException',
    });
  });

  it("returns an account's tags, and TargetNotFoundException for an account outside the organization", async () => {
    seedFleet(emu.state, { accounts: 2, regions: ['us-east-1'] });
    const out = await client().send(new ListTagsForResourceCommand({ ResourceId: '300000000002' }));
    expect(out.Tags).toEqual([
      { Key: 'env', Value: 'staging' },
      { Key: 'team', Value: 'search' },
    ]);
    await expect(client().send(new ListTagsForResourceCommand({ ResourceId: '999999999999' }))).rejects.toMatchObject({
      name: 'TargetNotFoundException',
      message: "We can't find a root, OU, account, or policy with the TargetId that you specified.",
    });
  });

  it('lists the (empty) tags of the root and of an OU, which are taggable targets too', async () => {
    seedFleet(emu.state, { accounts: 2, regions: ['us-east-1'] });
    const { rootId } = organizationOf(emu.state)!;
    const unit = putOrganizationalUnit(emu.state, 'sandbox');
    expect((await client().send(new ListTagsForResourceCommand({ ResourceId: rootId }))).Tags).toEqual([]);
    expect((await client().send(new ListTagsForResourceCommand({ ResourceId: unit.id }))).Tags).toEqual([]);
  });

  it('answers AWSOrganizationsNotInUseException outside an organization and AccessDeniedException to a member account', async () => {
    await expect(client().send(new ListAccountsCommand({}))).rejects.toMatchObject({
      name: 'AWSOrganizationsNotInUseException',
      message: 'Your account is not a member of an organization.',
    });
    seedFleet(emu.state, { accounts: 2, regions: ['us-east-1'] });
    const member = roleSession('300000000001', 'reader', ['organizations:*']);
    await expect(client(member).send(new ListAccountsCommand({}))).rejects.toMatchObject({ name: 'AccessDeniedException' });
    // A delegated administrator may read it.
    organizationOf(emu.state)!.delegatedAdministrators.add('300000000001');
    expect((await client(member).send(new ListAccountsCommand({}))).Accounts).toHaveLength(3);
    expect((await client(member).send(new DescribeOrganizationCommand({}))).Organization?.MasterAccountId).toBe(MANAGEMENT);
  });

  it('evaluates IAM: ListAccounts on *, ListAccountsForParent on the OU, ListTagsForResource on the account ARN', async () => {
    const fleet = seedFleet(emu.state, { accounts: 4, regions: ['us-east-1'] });
    const org = organizationOf(emu.state)!;
    const onlyList = client(roleSession(MANAGEMENT, 'lister', ['organizations:ListAccounts']));
    expect((await onlyList.send(new ListAccountsCommand({}))).Accounts).toHaveLength(5);
    await expect(onlyList.send(new ListTagsForResourceCommand({ ResourceId: '300000000001' }))).rejects.toMatchObject({
      name: 'AccessDeniedException',
      message: expect.stringContaining('organizations:ListTagsForResource'),
    });
    const prodOnly = client(
      roleSession(MANAGEMENT, 'prod-reader', ['organizations:ListAccountsForParent'], `arn:aws:organizations::${MANAGEMENT}:ou/${org.id}/${fleet.units.prod}`),
    );
    expect((await prodOnly.send(new ListAccountsForParentCommand({ ParentId: fleet.units.prod }))).Accounts).toHaveLength(2);
    await expect(prodOnly.send(new ListAccountsForParentCommand({ ParentId: fleet.units.staging }))).rejects.toMatchObject({ name: 'AccessDeniedException' });
  });

  it("throttles as Organizations does: TooManyRequestsException, beyond the account's rate", async () => {
    seedFleet(emu.state, { accounts: 2, regions: ['us-east-1'] });
    emu.traffic.throttle(MANAGEMENT, { burst: 1, perSecond: 0.001 });
    await client().send(new ListAccountsCommand({}));
    await expect(client().send(new ListAccountsCommand({}))).rejects.toMatchObject({ name: 'TooManyRequestsException' });
  });

  it('keeps one organization per emulator', () => {
    expect(createOrganization(emu.state, MANAGEMENT)).toBe(createOrganization(emu.state, '222222222222'));
  });
});
