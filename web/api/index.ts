export { createApiApp, parseInput } from './create-api-app.ts';
export type { ApiDeps, ApiState } from './create-api-app.ts';
export { ApiError } from './api-error.ts';
export { readJsonBody } from './json-body.ts';
