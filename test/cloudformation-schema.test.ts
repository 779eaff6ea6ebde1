/**
 * What `osls package` would deploy, checked against CloudFormation's resource schemas
 * (@aws-cdk/aws-service-spec, offline): the packaged stack template and the target-account
 * template infra/cross-account-role.yaml. A property CloudFormation does not know, a missing
 * required one, a value of the wrong type or a Fn::GetAtt of an attribute that does not exist
 * fails here instead of in a stack rollback. test/support/cfn-spec.ts says exactly what is checked.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { readYaml } from './support/cloudformation';
import { specDatabase, validateTemplate, type SpecDatabase } from './support/cfn-spec';
import { packagedTemplate } from './support/packaged';

let db: SpecDatabase;
let template: Record<string, any>;

beforeAll(async () => {
  db = specDatabase();
  template = await packagedTemplate(); // runs `npm run package` when missing or stale
}, 120_000);

describe('the packaged stack template (.serverless/cloudformation-template-update-stack.json)', () => {
  it('holds every resource serverless.yml declares and the functions osls generates', () => {
    const ids = Object.keys(template.Resources);
    expect(ids).toEqual(expect.arrayContaining(Object.keys(readYaml('serverless.yml').resources.Resources)));
    expect(ids).toEqual(
      expect.arrayContaining(['IngressLambdaFunction', 'WorkerLambdaFunction', 'RunWorkflowLambdaFunction', 'DeployWorkflowLambdaFunction', 'HttpApi']),
    );
  });

  it('is valid against the resource schemas: types, properties, required properties, value types, GetAtt attributes', () => {
    expect(validateTemplate(template, db)).toEqual([]);
  });

  it("carries the durable functions' DurableConfig into the generated functions, where the schema knows it", () => {
    // serverless.yml merges DurableConfig by override (osls has no property for it): the merge
    // must land in the function CloudFormation creates, with the schema's own property names.
    for (const id of ['RunWorkflowLambdaFunction', 'DeployWorkflowLambdaFunction']) {
      expect(template.Resources[id].Properties.DurableConfig, id).toEqual({ ExecutionTimeout: expect.any(Number), RetentionPeriodInDays: expect.any(Number) });
    }
  });
});

describe('infra/cross-account-role.yaml', () => {
  it('is valid against the resource schemas', () => {
    expect(validateTemplate(readYaml('infra/cross-account-role.yaml'), db)).toEqual([]);
  });
});

describe('the validator itself', () => {
  it('finds each kind of mistake it claims to find', () => {
    const errors = validateTemplate(
      {
        Parameters: { Name: { Type: 'String' } },
        Resources: {
          Unknown: { Type: 'AWS::Nope::Thing' },
          Queue: { Type: 'AWS::SQS::Queue', Properties: { QueueName: { Ref: 'Name' }, MessageRetentionPeriod: '14 days', Colour: 'blue' } },
          Fn: {
            Type: 'AWS::Lambda::Function',
            DependsOn: ['Missing'],
            Properties: {
              Role: { 'Fn::GetAtt': ['Queue', 'Arn'] },
              Code: { ZipFile: 'x' },
              Architectures: { 'Fn::Join': ['', ['arm64']] },
              Environment: { Variables: { A: { 'Fn::GetAtt': ['Queue', 'Colour'] }, B: { 'Fn::Sub': '${Queue.Nope}-${Nobody}' } } },
              DurableConfig: { RetentionPeriodInDays: 7 },
              Runtime: 'nodejs22.x',
              Handler: 'index.handler',
              PackageType: 'Tarball',
            },
          },
          Table: { Type: 'AWS::DynamoDB::Table', DeletionPolicy: 'Keep', Properties: { BillingMode: 'PAY_PER_REQUEST' } },
          Logs: { Type: 'AWS::Logs::LogGroup', Properties: { RetentionInDays: 45 } },
        },
        Outputs: { X: { Value: { Ref: 'Ghost' } } },
      },
      db,
    );
    const expected = [
      /Resources\.Unknown\.Type: "AWS::Nope::Thing" is not a CloudFormation resource type/,
      /Resources\.Queue\.Properties\.MessageRetentionPeriod: expected a number|integer/,
      /Resources\.Queue\.Properties: unknown property Colour/,
      /Resources\.Fn\.DependsOn: no resource Missing/,
      /Resources\.Fn\.Properties\.Architectures: Fn::Join makes a string, but a array is expected/,
      /Resources\.Fn\.Properties\.DurableConfig: required property ExecutionTimeout is missing/,
      /AWS::SQS::Queue has no attribute Colour/,
      /AWS::SQS::Queue has no attribute Nope/,
      /\$\{Nobody\}: Nobody is not a resource, a parameter or a pseudo parameter/,
      /Resources\.Table\.DeletionPolicy: "Keep" is not one of/,
      /Resources\.Table\.Properties: required property KeySchema is missing/,
      /Resources\.Fn\.Properties\.PackageType: "Tarball" is not one of Image, Zip/,
      /Resources\.Logs\.Properties\.RetentionInDays: 45 is not one of/,
      /Outputs\.X\.Value: Ghost is not a resource/,
    ];
    for (const pattern of expected)
      expect(
        errors.some((e) => pattern.test(e)),
        `${pattern} in\n${errors.join('\n')}`,
      ).toBe(true);
  });
});
