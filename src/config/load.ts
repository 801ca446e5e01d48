// routes.yaml on disk → a frozen PorticoConfig, or every problem found in it.
// Stages: read, parse YAML, expand ${...}, validate against the schema, lint,
// inspect handlers, resolve. Every stage that can run does, so a user fixing
// a config sees all of its problems at once; only a YAML syntax error stops
// early, since the tree after it is guesswork.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { diagnostic, sortDiagnostics, type Diagnostic } from './diagnostics.js';
import { expandDocument, readEnv, type Env } from './env.js';
import { lintCors } from './lint-cors.js';
import { lintHandlers, type InspectHandler } from './lint-handlers.js';
import { lintRoutes } from './lint-routes.js';
import { lintProxy } from './lint-proxy.js';
import { lintPolicies } from './lint-policies.js';
import { lintFunctionsDir, lintSettings } from './lint-settings.js';
import { lintTls } from './lint-tls.js';
import { record, type RawConfig } from './raw.js';
import { resolveConfig } from './resolve.js';
import { validateConfig } from './schema.js';
import { reportSchemaErrors } from './schema-errors.js';
import { parseYaml, Reporter, yamlData } from './source.js';
import type { PorticoConfig } from './types.js';

export interface LoadOptions {
  /** Variables for ${...} and $PORT. Default process.env (never modified). */
  env?: Env;
  /** Checks that a handler names an httpAction; without it handlers are not checked. */
  inspectHandler?: InspectHandler;
  /** Unset variables are warnings and their values unknown (validate --env-optional). */
  envOptional?: boolean;
}

export interface LoadResult {
  /** null when any diagnostic is an error; warnings do not block. */
  config: PorticoConfig | null;
  /** Sorted by position. */
  diagnostics: Diagnostic[];
}

/**
 * Reads, checks and resolves a routes.yaml. Never throws for a problem in the
 * user's files: those come back as diagnostics.
 *
 * @example
 * const { config, diagnostics } = await loadConfig('routes.yaml');
 * if (!config) console.error(formatText(diagnostics));
 */
export async function loadConfig(file: string, options: LoadOptions = {}): Promise<LoadResult> {
  const absolute = path.resolve(file);
  const dir = path.dirname(absolute);
  let text: string;
  try {
    text = await readFile(absolute, 'utf8');
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (error as Error).message;
    return done(null, [diagnostic('config/unreadable', absolute, { line: 1, column: 1 }, `cannot read ${file}: ${reason}`)]);
  }

  const parsed = parseYaml(absolute, text);
  if (parsed.fatal) return done(null, parsed.diagnostics);
  const { source } = parsed;

  const { env, diagnostics: envFileProblems } = await readEnv(dir, options.env ?? process.env);
  const expansion = expandDocument(source, env, { unsetIsUnknown: options.envOptional === true });
  const data: unknown = yamlData(source);

  const schemaReport = new Reporter(source);
  const { schema, errors } = validateConfig(data);
  const findings = reportSchemaErrors(schema, errors, schemaReport);

  const lintReport = new Reporter(source, findings);
  const config = record(data);
  lintRoutes(config, lintReport);
  lintCors(config, lintReport);
  lintProxy(config, lintReport);
  lintPolicies(config, dir, lintReport);
  const [functionsDir] = await Promise.all([lintFunctionsDir(config, dir, lintReport), lintSettings(config, dir, env, lintReport), lintTls(config, dir, lintReport)]);
  if (functionsDir && options.inspectHandler) await lintHandlers(config, functionsDir, options.inspectHandler, lintReport);

  // A scalar whose ${...} failed keeps its raw text; whatever the schema and
  // linters say about that text repeats the env problem, so it is dropped.
  const failed = new Set(expansion.failed.map((p) => `${p.line}:${p.column}`));
  const downstream = [...schemaReport.diagnostics, ...lintReport.diagnostics].filter((d) => !failed.has(`${d.line}:${d.column}`));

  const diagnostics = [...parsed.diagnostics, ...envFileProblems, ...expansion.diagnostics, ...downstream];
  if (diagnostics.some((d) => d.severity === 'error')) return done(null, diagnostics);
  return done(resolveConfig(data as RawConfig, { file: absolute, env }), diagnostics);
}

/** Identical lines say nothing new (an anchored value merged into several routes fails once per route). */
function done(config: PorticoConfig | null, diagnostics: Diagnostic[]): LoadResult {
  const seen = new Set<string>();
  const unique = diagnostics.filter((d) => {
    const key = JSON.stringify([d.file, d.line, d.column, d.rule, d.message]);
    return !seen.has(key) && seen.add(key);
  });
  return { config, diagnostics: sortDiagnostics(unique) };
}
