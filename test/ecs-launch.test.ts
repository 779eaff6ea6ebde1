/**
 * One meaning of "where the tasks run" for verify (and status and deploy): the set of kinds a
 * service's tasks can be on. Checks that differ by kind consider each kind in the set.
 */
import { describe, expect, it } from 'vitest';
import { launchKinds } from '../src/ecs/launch';

const kinds = (...args: Parameters<typeof launchKinds>) => [...launchKinds(...args)].sort();

describe('launchKinds', () => {
  it('a launch type names the one kind', () => {
    expect(kinds({ launchType: 'FARGATE' })).toEqual(['FARGATE']);
    expect(kinds({ launchType: 'EC2' })).toEqual(['EC2']);
    expect(kinds({ launchType: 'EXTERNAL' })).toEqual(['EXTERNAL']);
    // The launch type wins over a strategy ECS would not have accepted alongside it.
    expect(kinds({ launchType: 'EC2', capacityProviderStrategy: [{ capacityProvider: 'FARGATE', weight: 1 }] })).toEqual(['EC2']);
  });

  it('Fargate providers are Fargate, every other provider is EC2', () => {
    expect(kinds({ capacityProviderStrategy: [{ capacityProvider: 'FARGATE_SPOT', weight: 1 }] })).toEqual(['FARGATE']);
    expect(
      kinds({
        capacityProviderStrategy: [
          { capacityProvider: 'FARGATE', base: 1, weight: 1 },
          { capacityProvider: 'FARGATE_SPOT', weight: 4 },
        ],
      }),
    ).toEqual(['FARGATE']);
    expect(kinds({ capacityProviderStrategy: [{ capacityProvider: 'my-asg', weight: 1 }] })).toEqual(['EC2']);
    expect(
      kinds({
        capacityProviderStrategy: [
          { capacityProvider: 'asg-a', weight: 1 },
          { capacityProvider: 'asg-b', weight: 1 },
        ],
      }),
    ).toEqual(['EC2']);
  });

  it('a strategy mixing Fargate and EC2 providers has tasks of both kinds', () => {
    expect(
      kinds({
        capacityProviderStrategy: [
          { capacityProvider: 'FARGATE', weight: 1 },
          { capacityProvider: 'my-asg', weight: 1 },
        ],
      }),
    ).toEqual(['EC2', 'FARGATE']);
    expect(
      kinds({
        capacityProviderStrategy: [
          { capacityProvider: 'my-asg', base: 2 },
          { capacityProvider: 'FARGATE_SPOT', weight: 3 },
        ],
      }),
    ).toEqual(['EC2', 'FARGATE']);
  });

  it('a provider with neither weight nor base gets no tasks, unless none has either', () => {
    expect(
      kinds({
        capacityProviderStrategy: [
          { capacityProvider: 'FARGATE', weight: 1 },
          { capacityProvider: 'my-asg', weight: 0 },
        ],
      }),
    ).toEqual(['FARGATE']);
    expect(kinds({ capacityProviderStrategy: [{ capacityProvider: 'FARGATE' }, { capacityProvider: 'my-asg' }] })).toEqual(['EC2', 'FARGATE']);
  });

  it('without its own strategy, the cluster default decides', () => {
    expect(kinds({}, { defaultCapacityProviderStrategy: [{ capacityProvider: 'FARGATE', weight: 1 }] })).toEqual(['FARGATE']);
    expect(
      kinds(
        {},
        {
          defaultCapacityProviderStrategy: [
            { capacityProvider: 'FARGATE', weight: 1 },
            { capacityProvider: 'my-asg', weight: 1 },
          ],
        },
      ),
    ).toEqual(['EC2', 'FARGATE']);
    // The service's own strategy overrides the cluster's default.
    expect(
      kinds(
        { capacityProviderStrategy: [{ capacityProvider: 'my-asg', weight: 1 }] },
        { defaultCapacityProviderStrategy: [{ capacityProvider: 'FARGATE', weight: 1 }] },
      ),
    ).toEqual(['EC2']);
  });

  it('with nothing said: the task definition if it names one kind, else EC2', () => {
    expect(kinds({})).toEqual(['EC2']);
    expect(kinds(undefined)).toEqual(['EC2']);
    expect(kinds({}, undefined, { requiresCompatibilities: ['FARGATE'] })).toEqual(['FARGATE']);
    expect(kinds({}, undefined, { requiresCompatibilities: ['EC2', 'FARGATE'] })).toEqual(['EC2']);
    expect(kinds({ launchType: 'EC2' }, undefined, { requiresCompatibilities: ['EC2', 'FARGATE'] })).toEqual(['EC2']);
  });
});
