/**
 * YAML with CloudFormation's short-form tags (!Ref, !GetAtt, !Sub, …), as serverless.yml and the
 * templates in infra/ are written: each tag becomes its long form ({ Ref: … }, { 'Fn::Sub': … }),
 * the shape osls and CloudFormation see.
 */
import { readFileSync } from 'node:fs';
import { parse, type CollectionTag, type ScalarTag, type Tags } from 'yaml';

const INTRINSICS = [
  'Ref',
  'GetAtt',
  'Sub',
  'Join',
  'Select',
  'Split',
  'If',
  'Equals',
  'Not',
  'And',
  'Or',
  'FindInMap',
  'ImportValue',
  'Base64',
  'GetAZs',
  'Cidr',
  'Condition',
];
const longName = (name: string) => (name === 'Ref' || name === 'Condition' ? name : `Fn::${name}`);
const cfnTags: Tags = INTRINSICS.flatMap(
  (name): Array<ScalarTag | CollectionTag> => [
    // `!GetAtt Res.Attr` is the scalar form of `Fn::GetAtt: [Res, Attr]`.
    { tag: `!${name}`, resolve: (value: string) => ({ [longName(name)]: name === 'GetAtt' ? value.split('.') : value }) },
    ...(['seq', 'map'] as const).map(
      (collection): CollectionTag => ({ tag: `!${name}`, collection, resolve: (node) => ({ [longName(name)]: node.toJSON() }) }),
    ),
  ],
);

export const readYaml = (path: string) => parse(readFileSync(path, 'utf8'), { customTags: cfnTags }) as Record<string, any>;
