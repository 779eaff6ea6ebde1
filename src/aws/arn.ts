/** `web-task-role` from `arn:aws:iam::111111111111:role/app/web-task-role` (or from a bare name). */
export const roleName = (arn: string): string => arn.split('/').pop()!;

/**
 * The partition of a region's ARNs (AWS's partitions table): China and GovCloud have their own,
 * so an ARN built for them with `arn:aws` names nothing, and compares unequal to AWS's own.
 */
export function partitionOf(region: string): string {
  if (region.startsWith('cn-')) return 'aws-cn';
  if (region.startsWith('us-gov-')) return 'aws-us-gov';
  if (region.startsWith('us-isob-')) return 'aws-iso-b';
  if (region.startsWith('us-isof-')) return 'aws-iso-f';
  if (region.startsWith('eu-isoe-')) return 'aws-iso-e';
  if (region.startsWith('us-iso-')) return 'aws-iso';
  return 'aws';
}
