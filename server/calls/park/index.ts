export { DEFAULT_PARK_SETTINGS, ParkingLot, parseParkSlots } from './parking-lot.ts';
export type { CancelTimer, ParkedCall, ParkedEntry, ParkSettings } from './parking-lot.ts';
