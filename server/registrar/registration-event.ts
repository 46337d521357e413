import type { RegistrationEvent } from '../events/index.ts';

// The shapes live in the one event catalogue (server/events); the registrar only emits them.
export type { RegistrationEvent, RegistrationRemovalReason } from '../events/index.ts';

export type EmitRegistrationEvent = (event: RegistrationEvent) => void;
