/** Local AWS API emulator: see emulator.ts for the request pipeline, seed.ts for the sample account. */
export { FleetTraffic, type ThrottleSpec } from './fleet-traffic';
export { startAwsEmulator, Faults, type AwsEmulator, type AwsEmulatorOptions, type CallRecord } from './emulator';
export { seedSampleAccount, SAMPLE, type SeedOptions } from './seed';
export { seedVerifyBench, BENCH } from './seed-bench';
export { Clock, EmulatorState, DEFAULT_ACCOUNT, DEFAULT_REGION, arns, type Identity, type Role, type RegionState } from './state';
export { AwsError, type ServiceDefinition, type CallContext } from './protocols';
export {
  LambdaRuntime,
  type LambdaContextLike,
  type LambdaHandlerLike,
  type FunctionConfig,
  type FunctionRegistry,
  type InvocationRecord,
} from './services/lambda';
