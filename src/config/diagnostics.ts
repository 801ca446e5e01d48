// A problem found in a config file, and the three ways `portico validate`
// prints a list of them: text for people, GitHub Actions annotations for CI,
// JSON for tools.
import path from 'node:path';
import { severityOf, type RuleId, type Severity } from './rules.js';

export interface Diagnostic {
  /** Absolute path of the file the problem is in. */
  file: string;
  /** 1-based. */
  line: number;
  /** 1-based. */
  column: number;
  severity: Severity;
  message: string;
  /** A stable id from the rule catalogue (rules.ts). */
  rule: string;
  hint?: string;
}

export function diagnostic(
  rule: RuleId,
  file: string,
  at: { line: number; column: number },
  message: string,
  hint?: string,
): Diagnostic {
  const d: Diagnostic = { file, line: at.line, column: at.column, severity: severityOf(rule), message, rule };
  if (hint !== undefined) d.hint = hint;
  return d;
}

/** Errors first within a position, so the root cause reads first. */
export function sortDiagnostics(diagnostics: readonly Diagnostic[]): Diagnostic[] {
  const rank = (d: Diagnostic) => (d.severity === 'error' ? 0 : 1);
  return [...diagnostics].sort(
    (a, b) =>
      a.file.localeCompare(b.file) ||
      a.line - b.line ||
      a.column - b.column ||
      rank(a) - rank(b) ||
      a.rule.localeCompare(b.rule) ||
      a.message.localeCompare(b.message),
  );
}

/** What the caller knows about each file it checked, for the summary lines. */
export interface FileSummary {
  /** As passed to loadConfig; relative paths are taken from process.cwd(). */
  file: string;
  /** Route count of the loaded config; omit when it did not load. */
  routes?: number;
  /** The file has no errors of its own, but its project does not load (its function modules fail): never OK. */
  blocked?: boolean;
}

export interface FormatOptions {
  /** Paths inside cwd are printed relative to it. Default process.cwd(). */
  cwd?: string;
  /** Every file checked, clean ones included, in the order to summarise them. */
  files?: readonly FileSummary[];
}

function displayPath(file: string, cwd: string): string {
  const relative = path.relative(cwd, file);
  return relative && !relative.startsWith('..') && !path.isAbsolute(relative) ? relative : file;
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

interface Tally {
  file: string;
  routes: number | undefined;
  errors: number;
  warnings: number;
  blocked?: boolean;
}

/** Files from the options first (in their order), then any only diagnostics mention. */
function tally(diagnostics: readonly Diagnostic[], files: readonly FileSummary[]): Tally[] {
  const byFile = new Map<string, Tally>();
  // Diagnostics carry absolute paths; a caller may pass the path as typed.
  for (const f of files) byFile.set(path.resolve(f.file), { file: path.resolve(f.file), routes: f.routes, errors: 0, warnings: 0, blocked: f.blocked === true });
  for (const d of diagnostics) {
    let t = byFile.get(d.file);
    if (!t) byFile.set(d.file, (t = { file: d.file, routes: undefined, errors: 0, warnings: 0 }));
    if (d.severity === 'error') t.errors++;
    else t.warnings++;
  }
  return [...byFile.values()];
}

/**
 * One line per problem, `FILE:LINE:COL: error|warning: MESSAGE [rule]`, a hint
 * indented below it, then one summary line per file:
 *
 *   routes.yaml:4:5: error: unknown key 'metod' in route (did you mean 'method'?) [schema/unknown-key]
 *   1 error, 0 warnings in routes.yaml
 *
 * or `routes.yaml: OK (12 routes)` for a clean file. No trailing newline.
 */
export function formatText(diagnostics: readonly Diagnostic[], options: FormatOptions = {}): string {
  const cwd = options.cwd ?? process.cwd();
  const lines: string[] = [];
  for (const d of sortDiagnostics(diagnostics)) {
    lines.push(`${displayPath(d.file, cwd)}:${d.line}:${d.column}: ${d.severity}: ${oneLine(d.message)} [${d.rule}]`);
    if (d.hint) lines.push(`    hint: ${oneLine(d.hint)}`);
  }
  for (const t of tally(diagnostics, options.files ?? [])) {
    const name = displayPath(t.file, cwd);
    const routes = t.routes === undefined ? '' : ` (${plural(t.routes, 'route')})`;
    if (t.errors > 0) lines.push(`${plural(t.errors, 'error')}, ${plural(t.warnings, 'warning')} in ${name}`);
    else if (t.blocked) lines.push(`${name}: not valid: the function modules it names have errors (above)`);
    else if (t.warnings > 0) lines.push(`${name}: OK${routes}, ${plural(t.warnings, 'warning')}`);
    else lines.push(`${name}: OK${routes}`);
  }
  return lines.join('\n');
}

// Messages quote the user's keys and values, which may hold line breaks
// (`"a\nb": 1`), Unicode line separators, terminal escapes or bidi
// overrides: escaped, each problem stays on its one line and shows as written.
const UNPRINTABLE = /[\u0000-\u0008\u000a-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

function oneLine(text: string): string {
  return text.replace(UNPRINTABLE, (ch) => {
    const named: Record<string, string> = { '\n': '\\n', '\r': '\\r' };
    return named[ch] ?? `\\u${ch.charCodeAt(0).toString(16).padStart(4, '0')}`;
  });
}

// GitHub's workflow-command escaping (actions/toolkit, command.ts): data
// escapes %, CR and LF; property values also escape : and , since those
// delimit the properties.
function escapeData(s: string): string {
  return s.replace(/%/g, '%25').replace(/\r/g, '%0D').replace(/\n/g, '%0A');
}

function escapeProperty(s: string): string {
  return escapeData(s).replace(/:/g, '%3A').replace(/,/g, '%2C');
}

/**
 * GitHub Actions annotations, one workflow command per line:
 * `::error file=routes.yaml,line=4,col=5,title=schema/unknown-key::unknown key ...`.
 * A hint becomes a second line of the annotation's message.
 */
export function formatGithub(diagnostics: readonly Diagnostic[], options: Pick<FormatOptions, 'cwd'> = {}): string {
  const cwd = options.cwd ?? process.cwd();
  return sortDiagnostics(diagnostics)
    .map((d) => {
      const props = [
        `file=${escapeProperty(displayPath(d.file, cwd))}`,
        `line=${d.line}`,
        `col=${d.column}`,
        `title=${escapeProperty(d.rule)}`,
      ].join(',');
      const message = d.hint ? `${d.message}\nhint: ${d.hint}` : d.message;
      return `::${d.severity} ${props}::${escapeData(message)}`;
    })
    .join('\n');
}

export interface JsonDiagnostic {
  file: string;
  line: number;
  column: number;
  severity: Severity;
  rule: string;
  message: string;
  hint: string | null;
}

export interface JsonFileReport {
  file: string;
  valid: boolean;
  errorCount: number;
  warningCount: number;
  /** null when the file did not load. */
  routes: number | null;
}

/** The `--format json` document. Every key is always present. */
export interface JsonReport {
  valid: boolean;
  errorCount: number;
  warningCount: number;
  files: JsonFileReport[];
  diagnostics: JsonDiagnostic[];
}

export function formatJson(diagnostics: readonly Diagnostic[], options: FormatOptions = {}): JsonReport {
  const cwd = options.cwd ?? process.cwd();
  const files = tally(diagnostics, options.files ?? []).map((t) => ({
    file: displayPath(t.file, cwd),
    valid: t.errors === 0 && !t.blocked,
    errorCount: t.errors,
    warningCount: t.warnings,
    routes: t.routes ?? null,
  }));
  const errorCount = files.reduce((n, f) => n + f.errorCount, 0);
  const warningCount = files.reduce((n, f) => n + f.warningCount, 0);
  return {
    valid: errorCount === 0,
    errorCount,
    warningCount,
    files,
    diagnostics: sortDiagnostics(diagnostics).map((d) => ({
      file: displayPath(d.file, cwd),
      line: d.line,
      column: d.column,
      severity: d.severity,
      rule: d.rule,
      message: d.message,
      hint: d.hint ?? null,
    })),
  };
}
