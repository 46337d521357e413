export { api, apiRequest, apiText, callControl, ApiError, CompileFailedError, listAll, setUnauthorizedHandler } from './client.ts';
export type { Api } from './client.ts';
export { EventStream, StreamState } from './events.ts';
export type { EventSnapshot, EventStreamOptions, SocketLike, StreamEvent } from './events.ts';
export type * from './types.ts';
export { setOperatorTenant } from './client.ts';
export { adminApi } from './admin-client.ts';
export type * from './admin-types.ts';
