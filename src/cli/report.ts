import type { Diagnostic, FileSummary } from '../config/diagnostics.js';

/**
 * The summary line's facts for a config that did not load: when its own
 * lines are clean but its modules failed, it is "not valid", never "OK".
 */
export function failedSummary(file: string, diagnostics: readonly Diagnostic[]): FileSummary {
  return { file, blocked: !diagnostics.some((d) => d.file === file && d.severity === 'error') };
}
