export { CallPickup } from './call-pickup.ts';
export type { PickupHost } from './call-pickup.ts';
