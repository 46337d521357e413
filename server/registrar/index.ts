export type { AccountAuth, AccountDirectory, KeepAliveMethod, TenantRef } from './account-directory.ts';
export type { Binding, BindingChanges, BindingStore, BindingTarget } from './binding.ts';
export type { EmitRegistrationEvent, RegistrationEvent, RegistrationRemovalReason } from './registration-event.ts';
export { CidrSet } from './cidr.ts';
export { LocationService, aorKey, type LocationServiceOptions } from './location-service.ts';
export { Registrar, type RegistrarOptions } from './registrar.ts';
export { NatKeepAlive, type KeepAliveTransport, type NatKeepAliveOptions } from './nat-keep-alive.ts';
export { DbAccountDirectory, toAccountAuth, type DbAccountDirectoryOptions } from './db-account-directory.ts';
export { DbBindingStore } from './db-binding-store.ts';
