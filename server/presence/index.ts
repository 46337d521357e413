export { ExtensionPresence } from './extension-presence.ts';
export type { ExtensionView, BindingSeed } from './extension-presence.ts';
