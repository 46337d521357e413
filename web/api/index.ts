export { createApi, createApiApp, API_PREFIX } from './app.ts';
export type { ApiApp } from './app.ts';
export type { ApiDeps, ApiJobs, ApiBinding, LiveBindings, ConfigChangedEvent, CompiledDialplan } from './deps.ts';
export { parseInput, type ApiState } from './api-router.ts';
export { ApiError } from './middleware/api-error.ts';
export { readJsonBody } from './middleware/json-body.ts';
export { authenticateRequest, authenticate, SESSION_COOKIE, DEFAULT_SESSION_SETTINGS } from './middleware/auth.ts';
export type { AuthInfo, SessionSettings } from './middleware/auth.ts';
export { LoginBrake, type LoginBrakeOptions } from './login-brake.ts';
