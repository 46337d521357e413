export { DialplanDryRun } from './dialplan-dry-run.ts';
export type { DryRunDeps, DryRunParams } from './dialplan-dry-run.ts';
export { DryRunRequestError } from './dry-run-types.ts';
export type {
  DryRunCall, DryRunLeg, DryRunLegAction, DryRunLimit, DryRunOptions, DryRunOutcomeRule, DryRunReport, DryRunTimelineEntry, DryRunWebGetRule,
} from './dry-run-types.ts';
export { destinationText, patternMatches } from './simulated-legs.ts';
export { dryRunReportText } from './report-text.ts';
