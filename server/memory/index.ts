export { startIdleHeapTrim, type IdleHeapTrim, type IdleHeapTrimDeps, type IdleHeapTrimOptions } from './idle-heap-trim.ts';
