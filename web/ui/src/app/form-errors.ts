import { ApiError } from '../api/index.ts';

/** Field name → message; `form` holds what belongs to no field. */
export type FieldErrors = Record<string, string>;

/**
 * The API's answer as field errors: its `field` gets the message (without the "field: "
 * prefix the API writes for scripts), a 409 lands on `duplicateField` when given.
 */
export function errorsFromApi(error: unknown, duplicate?: { field: string; message: string }): FieldErrors {
  if (error instanceof ApiError) {
    if (error.status === 409 && duplicate) return { [duplicate.field]: duplicate.message };
    if (error.field) {
      const prefix = `${error.field}: `;
      return { [error.field]: error.message.startsWith(prefix) ? error.message.slice(prefix.length) : error.message };
    }
    if (error.status === 403) return { form: 'Your role does not allow this.' };
  }
  if (error instanceof TypeError) return { form: 'Cannot reach the switch. Check your connection and try again.' };
  return { form: error instanceof Error ? error.message : String(error) };
}

/** The same domain rule as the tenants repository (lower-cased first). */
export const DOMAIN_NAME = /^(?=.{1,253}$)[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$/;
/** Secret and provider names, as the API checks them. */
export const RESOURCE_NAME = /^[A-Za-z0-9_.-]{1,64}$/;
export const MIN_WEB_PASSWORD = 8;
