export { DEFAULT_PARK_SETTINGS, ParkingLot, parseParkSlots } from './parking-lot.ts';
export type { CancelTimer, ParkedCall, ParkedEntry, ParkSettings, ParkSettingsSource } from './parking-lot.ts';
export { TenantParkSettings } from './tenant-park-settings.ts';
export type { StoredParkSettings, TenantParkSettingsOptions } from './tenant-park-settings.ts';
export { CallPark } from './call-park.ts';
export type { ParkFailure, ParkHost, ParkedState } from './call-park.ts';
