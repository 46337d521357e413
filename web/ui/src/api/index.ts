export { api, ApiError, CompileFailedError, setUnauthorizedHandler } from './client.ts';
export type { Api } from './client.ts';
export type * from './types.ts';
