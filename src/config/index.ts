// The config module's public surface: load a routes.yaml, print what is wrong
// with it, and the resolved types everything downstream reads.
export { loadConfig, type LoadOptions, type LoadResult } from './load.js';
export type { HandlerProblem, HandlerRule, InspectHandler } from './lint-handlers.js';
export {
  formatText,
  formatGithub,
  formatJson,
  sortDiagnostics,
  type Diagnostic,
  type FileSummary,
  type FormatOptions,
  type JsonReport,
  type JsonFileReport,
  type JsonDiagnostic,
} from './diagnostics.js';
export { RULES, type RuleId, type RuleInfo, type Severity } from './rules.js';
export { SCHEMA_URL } from './schema.js';
export { checkOrigin, type OriginProblem } from './origin.js';
export * from './types.js';
