import type { TaskDefinition } from '@aws-sdk/client-ecs';
import { describe, expect, it } from 'vitest';
import { withImage } from '../src/ecs/taskdef';
import { UsageError } from '../src/platform/errors';

const ECR = '111111111111.dkr.ecr.us-east-1.amazonaws.com';
const td: TaskDefinition = {
  family: 'web',
  containerDefinitions: [
    { name: 'app', image: `${ECR}/web:v1.4.2`, essential: true },
    { name: 'worker', image: `${ECR}/web:v1.4.2@sha256:${'a'.repeat(64)}`, essential: true },
    { name: 'proxy', image: 'nginx:1.27', essential: false },
  ],
};

describe('withImage: the task definition a deploy would register', () => {
  it('a bare tag re-tags the containers of the first essential container’s repository, dropping a pinned digest', () => {
    const { taskDefinition, changes } = withImage(td, 'v1.5.0');
    expect(changes.map((c) => [c.container, c.to])).toEqual([
      ['app', `${ECR}/web:v1.5.0`],
      ['worker', `${ECR}/web:v1.5.0`],
    ]);
    expect(taskDefinition.containerDefinitions![2]!.image).toBe('nginx:1.27');
    expect(td.containerDefinitions![0]!.image).toBe(`${ECR}/web:v1.4.2`); // the input is not changed
  });
  it('a full image replaces the containers of the same repository, Docker Hub names normalised', () => {
    expect(withImage(td, 'docker.io/library/nginx:1.28').changes).toEqual([{ container: 'proxy', from: 'nginx:1.27', to: 'docker.io/library/nginx:1.28' }]);
  });
  it('honours appContainers and refuses what matches nothing', () => {
    expect(withImage(td, 'v2', ['worker']).changes.map((c) => c.container)).toEqual(['worker']);
    expect(() => withImage(td, `${ECR}/api:v1`)).toThrow(UsageError);
    expect(() => withImage(td, 'v2', ['nope'])).toThrow(/names app container\(s\) `nope`/);
  });
});
