/**
 * Load balancing checks against the local AWS emulator: the seeded `web` passes, `manager` has no
 * load balancer, `broken` names a deleted target group (VERIFY_SEED.problems `target-group-missing`);
 * other failures are made by changing the emulator's state for one test.
 */
import type { LoadBalancer } from '@aws-sdk/client-ecs';
import { describe, expect, it, onTestFinished } from 'vitest';
import { VERIFY_SEED } from '../local/aws/seed-verify';
import { elbv2State } from '../local/aws/services/elbv2';
import { loadBalancerChecks } from '../src/verify/checks/loadbalancing';
import type { VerifyContext } from '../src/verify/context';
import { patch, runRecorded, useVerifyHarness } from './support/verify';

const h = useVerifyHarness();
const V = VERIFY_SEED;
const region = () => h.aws.state.region(V.accountId, V.region);
const service = (name: string) => region().ecs.clusters.get('main')!.services.get(name)!;
const plan = async (ctx: VerifyContext) => loadBalancerChecks({ ctx, taskDefinition: await ctx.taskDefinition(), service: (await ctx.service())! });

const run = (alias: string) => runRecorded(h, plan, alias, 'elasticloadbalancing');

describe('load balancing checks', () => {
  it('web: its target group exists, fits awsvpc (ip targets) and the container maps the port — one DescribeTargetGroups', async () => {
    const { results, r, calls } = await run('web');
    expect(results.map((x) => [x.id, x.status])).toEqual([
      ['loadbalancing:0:target-group', 'OK'],
      ['loadbalancing:0:container', 'OK'],
      ['loadbalancing:0:target-type', 'OK'],
    ]);
    expect(r['loadbalancing:0:target-group']!.message).toContain('HTTP:8080, target type ip');
    expect(r['loadbalancing:0:target-group']!.message).toContain('app/main/');
    expect(r['loadbalancing:0:container']!.message).toContain('8080/tcp');
    expect(results.every((x) => x.group.join('/') === 'Service/LoadBalancer 0')).toBe(true);
    expect(calls.map((c) => c.action)).toEqual(['DescribeTargetGroups']);
  });

  it('manager: not behind a load balancer, so one SKIP and no ELB call', async () => {
    const { results, calls } = await run('manager');
    expect(results.map((x) => [x.id, x.status])).toEqual([['loadbalancing', 'SKIP']]);
    expect(results[0]!.message).toMatch(/not behind a load balancer/);
    expect(calls).toEqual([]);
  });

  it('broken: the target group it names was deleted — FAIL with the update-service fix; the fit check is skipped', async () => {
    const problem = V.problems.find((p) => p.id === 'target-group-missing')!;
    const { r, calls } = await run('broken');
    const tg = r['loadbalancing:0:target-group']!;
    expect(tg.status).toBe('FAIL');
    expect(tg.message).toContain(problem.resource);
    expect(tg.message).toMatch(/does not exist/);
    expect(tg.fix).toContain(
      'aws ecs update-service --region us-east-1 --cluster main --service broken --load-balancers targetGroupArn=<new target group ARN>,containerName=app,containerPort=8080',
    );
    expect(r['loadbalancing:0:container']!.status).toBe('OK');
    expect(r['loadbalancing:0:target-type']!.status).toBe('SKIP');
    // One ARN: the failed call already says which one is missing.
    expect(calls.map((c) => [c.action, c.error?.code])).toEqual([['DescribeTargetGroups', 'TargetGroupNotFound']]);
  });

  it('asks once for all target groups, and per ARN only when one of them is missing', async () => {
    const entries: LoadBalancer[] = [
      { targetGroupArn: V.targetGroups.web, containerName: 'app', containerPort: 8080 },
      { targetGroupArn: V.targetGroups.missing, containerName: 'app', containerPort: 8080 },
    ];
    patch(service('web'), { loadBalancers: entries });
    const { r, calls } = await run('web');
    expect(r['loadbalancing:0:target-group']!.status).toBe('OK');
    expect(r['loadbalancing:1:target-group']!.status).toBe('FAIL');
    expect(r['loadbalancing:1:target-group']!.title).toBe('Target group `broken`');
    expect(r['loadbalancing:1:target-type']!.status).toBe('SKIP');
    const asked = calls.map((c) => JSON.stringify(c.params.TargetGroupArns));
    expect(asked).toHaveLength(3);
    expect(new Set(asked).size).toBe(3); // never the same question twice
  });

  it('the container is missing, or does not map the port: FAIL naming what the task definition has', async () => {
    patch(service('web'), { loadBalancers: [{ targetGroupArn: V.targetGroups.web, containerName: 'api', containerPort: 8080 }] });
    let { r } = await run('web');
    expect(r['loadbalancing:0:container']).toMatchObject({ status: 'FAIL', title: 'Container `api` port 8080' });
    expect(r['loadbalancing:0:container']!.message).toContain('it has `app`, `log-router`');
    expect(r['loadbalancing:0:container']!.fix).toContain('containerName=app,containerPort=8080');

    patch(service('web'), { loadBalancers: [{ targetGroupArn: V.targetGroups.web, containerName: 'app', containerPort: 9090 }] });
    ({ r } = await run('web'));
    expect(r['loadbalancing:0:container']!.status).toBe('FAIL');
    expect(r['loadbalancing:0:container']!.message).toContain('does not map port 9090 (its port mappings: 8080/tcp)');
    expect(r['loadbalancing:0:container']!.fix).toContain('"containerPort": 9090');
  });

  it('target type instance with awsvpc fails; a different target group port is only noted', async () => {
    const tg = elbv2State(region()).get(V.targetGroups.web)!;
    patch(tg, { TargetType: 'instance' });
    let { r } = await run('web');
    expect(r['loadbalancing:0:target-type']!.status).toBe('FAIL');
    expect(r['loadbalancing:0:target-type']!.message).toContain('network mode `awsvpc` needs `ip` targets');
    expect(r['loadbalancing:0:target-type']!.fix).toContain('--target-type ip');

    patch(tg, { TargetType: 'ip', Port: 80, HealthCheckPort: '9000' });
    ({ r } = await run('web'));
    expect(r['loadbalancing:0:target-type']!.status).toBe('OK');
    expect(r['loadbalancing:0:target-type']!.message).toContain("port 80 is only its default: ECS registers each task's IP with the container port 8080");
    expect(r['loadbalancing:0:target-type']!.message).toContain('health checks go to port 9000');
  });

  it('a UDP mapping behind an HTTP target group fails', async () => {
    const td = region().ecs.taskDefinitions.get('web:42')!.taskDefinition;
    const app = td.containerDefinitions!.find((c) => c.name === 'app')!;
    patch(app, { portMappings: [{ containerPort: 8080, hostPort: 8080, protocol: 'udp' }] });
    const { r } = await run('web');
    expect(r['loadbalancing:0:target-type']!.status).toBe('FAIL');
    expect(r['loadbalancing:0:target-type']!.message).toContain('mapped as UDP');
  });

  it('a target group attached to no load balancer is a WARN with the listener fix', async () => {
    patch(elbv2State(region()).get(V.targetGroups.web)!, { LoadBalancerArns: [] });
    const { r } = await run('web');
    expect(r['loadbalancing:0:target-group']!.status).toBe('WARN');
    expect(r['loadbalancing:0:target-group']!.message).toContain('not attached to any load balancer');
    expect(r['loadbalancing:0:target-group']!.fix).toContain('aws elbv2 modify-listener');
  });

  it('a Classic Load Balancer entry is skipped as not checked', async () => {
    patch(service('web'), { loadBalancers: [{ loadBalancerName: 'legacy-elb', containerName: 'app', containerPort: 8080 }] });
    const { results, calls } = await run('web');
    expect(results.map((x) => [x.id, x.status, x.title])).toEqual([['loadbalancing:0', 'SKIP', 'Classic Load Balancer `legacy-elb`']]);
    expect(results[0]!.message).toMatch(/not checked/);
    expect(calls).toEqual([]);
  });

  it('when the bot may not describe target groups, says which permission it needs (never OK)', async () => {
    const lift = h.aws.faults.deny('elasticloadbalancing:DescribeTargetGroups');
    onTestFinished(lift);
    const { r } = await run('web');
    const tg = r['loadbalancing:0:target-group']!;
    expect(tg).toMatchObject({ status: 'WARN', unverified: true });
    expect(tg.message).toContain('`elasticloadbalancing:DescribeTargetGroups`');
    expect(r['loadbalancing:0:target-type']!.status).not.toBe('OK');
    expect(r['loadbalancing:0:container']!.status).toBe('OK'); // read from the task definition alone
  });

  it('a throttle that clears is retried by the SDK and does not change the outcome', async () => {
    onTestFinished(h.aws.faults.throttle('elasticloadbalancing:DescribeTargetGroups', 1));
    const { r } = await run('web');
    expect(r['loadbalancing:0:target-group']!.status).toBe('OK');
  });
});
