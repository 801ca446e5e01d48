// `${NAME}` expansion in routes.yaml. It runs on the YAML tree, before
// validation, so every later diagnostic still points into the file and sees
// the values the gateway will really use.
//
// Syntax (the docker compose subset people already know):
//   ${NAME}           the variable; an error when it is unset (set but empty is fine)
//   ${NAME:-default}  the default when NAME is unset or empty; the default is
//                     literal text (no nested ${...}) and cannot contain `}`
//   $${               a literal `${` (so `$${HOME}` stays `${HOME}`)
// Any other `${` is a malformed reference, reported rather than passed through,
// because `${NAME-x}` or an unclosed `${NAME` is always a typo.
//
// With `unsetIsUnknown` (validate --env-optional, for CI without the
// secrets), an unset variable is a warning and the value that uses it is
// unknown: it keeps its raw text, and what later checks say about that text
// is dropped, as for any failed expansion.
//
// A key whose value is only a variable that expands to nothing, in
// EMPTY_MEANS_ABSENT, is left out: `adminKey: ${PORTICO_ADMIN_KEY:-}` means
// "no admin key", not an admin key of zero characters.
//
// Only values are expanded, never keys: every key in routes.yaml is a fixed
// schema name.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { parse as parseDotenv } from 'dotenv';
import { isScalar, Scalar, visit, type Pair } from 'yaml';
import { diagnostic, type Diagnostic } from './diagnostics.js';
import { offsetPosition, type Position, type YamlSource } from './source.js';

export type Env = Readonly<Record<string, string | undefined>>;

/**
 * The variables routes.yaml sees: `.env` beside it, overridden by the real
 * environment. Neither input is modified.
 */
export async function readEnv(dir: string, real: Env): Promise<{ env: Env; diagnostics: Diagnostic[] }> {
  const file = path.join(dir, '.env');
  let fromFile: Record<string, string> = {};
  try {
    fromFile = parseDotenv(await readFile(file, 'utf8'));
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== 'ENOENT') {
      const message = `cannot read .env: ${(error as Error).message}`;
      return { env: real, diagnostics: [diagnostic('env/dotenv-unreadable', file, { line: 1, column: 1 }, message)] };
    }
  }
  const env: Record<string, string | undefined> = { ...fromFile };
  for (const [name, value] of Object.entries(real)) if (value !== undefined) env[name] = value;
  return { env, diagnostics: [] };
}

/** $PORT as a port: undefined when unset or empty, null when set but not a port. */
export function portFromEnv(env: Env): number | null | undefined {
  const raw = env.PORT;
  if (raw === undefined || raw === '') return undefined;
  return /^[0-9]{1,5}$/.test(raw) && Number(raw) <= 65535 ? Number(raw) : null;
}

type Problem = { kind: 'unset'; name: string } | { kind: 'malformed'; text: string; hint: string };

interface Expansion {
  value: string;
  /** At least one ${...} was substituted (escapes alone do not count). */
  substituted: boolean;
  problems: Problem[];
}

const REFERENCE_BODY = /^([A-Za-z_][A-Za-z0-9_]*)(?::-(.*))?$/s;
const MALFORMED_HINT = 'write ${NAME} or ${NAME:-default}; $${ gives a literal ${';

export function expandString(input: string, env: Env): Expansion {
  let value = '';
  let substituted = false;
  const problems: Problem[] = [];
  let i = 0;
  while (i < input.length) {
    if (input.startsWith('$${', i)) {
      value += '${';
      i += 3;
      continue;
    }
    if (!input.startsWith('${', i)) {
      value += input[i];
      i++;
      continue;
    }
    const end = input.indexOf('}', i + 2);
    if (end < 0) {
      problems.push({ kind: 'malformed', text: input.slice(i), hint: `close it with }: ${MALFORMED_HINT}` });
      value += input.slice(i);
      break;
    }
    const text = input.slice(i, end + 1);
    const match = REFERENCE_BODY.exec(input.slice(i + 2, end));
    const fallback = match?.[2];
    if (!match || fallback?.includes('${')) {
      const hint = fallback?.includes('${') ? `nested references are not supported; ${MALFORMED_HINT}` : MALFORMED_HINT;
      problems.push({ kind: 'malformed', text, hint });
      value += text;
    } else {
      const name = match[1]!;
      const set = env[name];
      if (fallback !== undefined && (set === undefined || set === '')) value += fallback;
      else if (set !== undefined) value += set;
      else problems.push({ kind: 'unset', name });
      substituted = true;
    }
    i = end + 1;
  }
  return { value, substituted, problems };
}

// YAML 1.2 core-schema forms, so `port: ${PORT}` types the way `port: 3000` would.
const INTEGER = /^[-+]?[0-9]+$/;
const FLOAT = /^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$/;
const BOOLEAN = /^(true|True|TRUE|false|False|FALSE)$/;

export function coercePlain(value: string): string | number | boolean {
  if (INTEGER.test(value) || FLOAT.test(value)) return Number(value);
  if (BOOLEAN.test(value)) return value.toLowerCase() === 'true';
  return value;
}

export interface ExpandResult {
  diagnostics: Diagnostic[];
  /**
   * Positions of scalars left unexpanded because of a problem. Later checks
   * would only report the same root cause again there, so the loader drops
   * their diagnostics at these positions.
   */
  failed: Position[];
}

/**
 * Expands every string value in the document in place. A plain (unquoted)
 * scalar whose expansion looks like a number or boolean takes that type;
 * quoted and block scalars stay strings.
 */
const EMPTY_MEANS_ABSENT = new Set(['adminKey', 'publicUrl']);

export interface ExpandOptions {
  /** Unset variables are warnings and their values unknown (validate --env-optional). */
  unsetIsUnknown?: boolean;
}

export function expandDocument(source: YamlSource, env: Env, options: ExpandOptions = {}): ExpandResult {
  const diagnostics: Diagnostic[] = [];
  const failed: Position[] = [];
  visit(source.doc, {
    Pair(_key, pair) {
      if (expandsToNothing(pair, env)) return visit.REMOVE;
      return undefined;
    },
    Scalar(key, node) {
      if (key === 'key' || typeof node.value !== 'string' || !node.value.includes('${')) return;
      const result = expandString(node.value, env);
      if (result.problems.length > 0) {
        const at = offsetPosition(source, node.range?.[0] ?? 0);
        failed.push(at);
        for (const problem of result.problems) {
          if (problem.kind === 'unset' && options.unsetIsUnknown) {
            diagnostics.push({
              ...diagnostic('env/unset-variable', source.file, at, `environment variable ${problem.name} is not set; its value is unknown to this check`),
              severity: 'warning',
            });
            continue;
          }
          diagnostics.push(
            problem.kind === 'unset'
              ? diagnostic(
                  'env/unset-variable',
                  source.file,
                  at,
                  `environment variable ${problem.name} is not set`,
                  `set it, add it to .env beside this file, or give a default: \${${problem.name}:-value}`,
                )
              : diagnostic('env/malformed-reference', source.file, at, `malformed variable reference '${problem.text}'`, problem.hint),
          );
        }
        return;
      }
      node.value = isPlain(node) && result.substituted ? coercePlain(result.value) : result.value;
    },
  });
  return { diagnostics, failed };
}

function expandsToNothing(pair: Pair, env: Env): boolean {
  if (!isScalar(pair.key) || !EMPTY_MEANS_ABSENT.has(String(pair.key.value))) return false;
  if (!isScalar(pair.value) || typeof pair.value.value !== 'string' || !pair.value.value.includes('${')) return false;
  const result = expandString(pair.value.value, env);
  return result.problems.length === 0 && result.substituted && result.value === '';
}

function isPlain(node: unknown): boolean {
  return isScalar(node) && node.type === Scalar.PLAIN;
}
