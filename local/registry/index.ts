/** Local container registry (Docker Registry HTTP API v2 subset): see server.ts. */
export {
  startRegistry,
  registryEndpointsEnv,
  REGISTRY_ENDPOINTS_ENV,
  REGISTRY_HOSTS,
  MEDIA_TYPES,
  type LocalRegistry,
  type RegistryOptions,
  type PutImageOptions,
  type PushedImage,
  type ImageFormat,
  type RegistryRequest,
} from './server';
export { parseImageReference, DOCKER_HUB, type ImageReference } from './reference';
export { registrySeedImages, seedRegistry } from './seed';
