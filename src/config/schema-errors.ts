// ajv errors → diagnostics a person can act on, placed at the YAML node they
// are about. Explanations are keyed by where the failing rule sits in the
// schema file (its JSON pointer), so they survive edits to patterns.
import type { AnySchemaObject, ErrorObject } from 'ajv';
import { coercePlain } from './env.js';
import type { RuleId } from './rules.js';
import type { CompiledSchema } from './schema.js';
import { Reporter, type JsonPath } from './source.js';
import { suggest } from './suggest.js';

/** What each `anyOf` accepts, for values that fit none of its forms. */
const ANY_OF_EXPECTS: Record<string, { expects: string; hint?: string }> = {
  '/properties/api': { expects: 'false (no function API) or a mapping with prefix and adminKey' },
  '/properties/cors': {
    expects: 'false (CORS off) or a CORS policy mapping',
    hint: 'a policy looks like { origins: [https://app.example.com] }',
  },
  '/definitions/route/properties/cors': {
    expects: 'false (CORS off) or a CORS policy mapping merged over the top-level one',
    hint: 'leave cors out to use the top-level policy as it is',
  },
  '/definitions/size': { expects: 'a size: a number of bytes, or a string such as 512kb, 20mb or 1gb' },
  '/definitions/duration': { expects: 'a duration: a number of milliseconds, or a string such as 500ms, 30s or 2m' },
  '/definitions/route/properties/method': {
    expects: 'a method (GET, POST, PUT, PATCH, DELETE, OPTIONS) or a list of methods',
  },
  '/definitions/authProvider/properties/audience': { expects: 'a string or a list of strings' },
};

/** What each `pattern` means, said the way a user thinks of the value. */
const PATTERN_EXPLAINS: Record<string, string> = {
  '/definitions/route/properties/path': 'a path must start with / and use :name for parameters, e.g. /users/:id',
  '/definitions/route/properties/pathPrefix': 'a path prefix must start and end with /, e.g. /files/',
  '/definitions/route/properties/handler':
    'a handler is module:export or module (its default export) inside the functions folder, e.g. messages:postMessage or dir/file:fn, without . or .. segments',
  '/definitions/headerName': "a header name is letters, digits and !#$%&'*+.^_`|~- only (no spaces or colons)",
  '/definitions/size/anyOf/1': 'a size is a number with a unit b, kb, mb or gb, e.g. 512kb, 20mb, 1gb',
  '/definitions/duration/anyOf/1': 'a duration is a number with a unit ms, s, m or h, e.g. 500ms, 30s, 2m',
  '/properties/server/properties/publicUrl': 'publicUrl is an http:// or https:// URL, e.g. https://api.example.com',
  '/properties/backend/properties/url': 'the remote backend url is an http:// or https:// URL',
  '/properties/api/anyOf/1/properties/prefix': 'the API prefix is a path such as /api: a leading /, no trailing /',
  '/properties/api/anyOf/1/properties/adminKey': 'an admin key has no spaces or colons (a colon separates the key from an acting-as identity in Authorization: Convex <key>:<identity>)',
};

const TYPE_NAMES: Record<string, string> = {
  integer: 'an integer',
  number: 'a number',
  string: 'a string',
  boolean: 'true or false',
  array: 'a list',
  object: 'a mapping',
  null: 'empty',
};

function decodePointer(pointer: string): string[] {
  return pointer === '' ? [] : pointer.slice(1).split('/').map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
}

/** The path the config reader sees: numbers for list positions. */
function toJsonPath(segments: readonly string[]): JsonPath {
  return segments.map((s) => (/^(0|[1-9][0-9]*)$/.test(s) ? Number(s) : s));
}

/** Index of the segment after which a label is relative (the route or provider). */
function ownerEnd(path: JsonPath): number {
  for (let i = path.length - 1; i > 0; i--) {
    if (typeof path[i] === 'number' && (path[i - 1] === 'routes' || path[i - 1] === 'providers')) return i + 1;
  }
  return 0;
}

/** `server.port`, `method[1]`, `cors.origins[0]`: short, since the position says which route. */
function label(path: JsonPath): string {
  const own = path.slice(ownerEnd(path));
  if (own.length === 0) return objectName(path);
  return own.map((s, i) => (typeof s === 'number' ? `[${s}]` : i === 0 ? s : `.${s}`)).join('');
}

function objectName(path: JsonPath): string {
  if (path.length === 0) return 'the config';
  const last = path[path.length - 1];
  const parent = path[path.length - 2];
  if (typeof last === 'number' && parent === 'routes') return 'route';
  if (typeof last === 'number' && parent === 'providers') return 'auth provider';
  return label(path);
}

function where(path: JsonPath): string {
  return path.length === 0 ? 'at the top level' : `in ${objectName(path)}`;
}

function show(value: unknown): string {
  if (value === null || value === undefined) return 'an empty value';
  if (typeof value === 'string') return `'${value.length > 60 ? `${value.slice(0, 57)}...` : value}'`;
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  return String(value);
}

function quoteList(values: readonly unknown[]): string {
  return values.map((v) => (typeof v === 'string' ? v : JSON.stringify(v))).join(', ');
}

/** A quoted `"3000"` where a number belongs: the fix is to drop the quotes. */
function quotedHint(expected: string[], value: unknown): string | undefined {
  if (typeof value !== 'string') return undefined;
  const coerced = coercePlain(value);
  const asType = typeof coerced === 'boolean' ? 'boolean' : Number.isInteger(coerced) ? 'integer' : typeof coerced;
  const fits = expected.includes(asType) || (asType === 'integer' && expected.includes('number'));
  return typeof coerced !== 'string' && fits ? 'remove the quotes: a quoted value is always a string' : undefined;
}

function pathHint(value: string): string | undefined {
  if (value.includes('*')) return 'use pathPrefix (ending in /) to match everything below a path';
  const fixed = `${value.startsWith('/') ? '' : '/'}${value.replace(/\{([A-Za-z_][A-Za-z0-9_]*)\}/g, ':$1')}`;
  return fixed !== value ? `did you mean '${fixed}'?` : undefined;
}

interface Message {
  rule: RuleId;
  path: JsonPath;
  message: string;
  hint?: string;
  atKey?: boolean;
  /** unknown-key: the key it probably misspells. */
  guess?: string;
  /** required: the missing key. */
  missing?: string;
}

function explain(schema: CompiledSchema, error: ErrorObject): Message {
  const path = toJsonPath(decodePointer(error.instancePath));
  const name = label(path);
  const parent = error.parentSchema as AnySchemaObject | undefined;
  const pointer = parent ? schema.pointers.get(parent) : undefined;
  const params = error.params as Record<string, unknown>;
  const data: unknown = error.data;

  switch (error.keyword) {
    case 'additionalProperties': {
      const key = String(params.additionalProperty);
      const known = Object.keys((parent?.properties as object | undefined) ?? {});
      const guess = suggest(key, known);
      return {
        rule: 'schema/unknown-key',
        path: [...path, key],
        atKey: true,
        message: `unknown key '${key}' ${where(path)}${guess ? ` (did you mean '${guess}'?)` : ''}`,
        ...(guess ? { guess } : { hint: `allowed keys: ${known.join(', ')}` }),
      };
    }
    case 'required': {
      const missing = String(params.missingProperty);
      return { rule: 'schema/required', path, missing, message: `${objectName(path)} is missing required key '${missing}'` };
    }
    case 'type': {
      const expected = String(params.type).split(',');
      if (path.length === 0 && (data === null || data === undefined)) {
        return { rule: 'schema/type', path, message: "the file is empty: it needs at least 'version: 1' and 'routes'" };
      }
      const hint = quotedHint(expected, data);
      return {
        rule: 'schema/type',
        path,
        message: `${name} must be ${expected.map((t) => TYPE_NAMES[t] ?? t).join(' or ')}, not ${show(data)}`,
        ...(hint ? { hint } : {}),
      };
    }
    case 'enum': {
      const allowed = (params.allowedValues as unknown[]) ?? [];
      if (typeof data === 'string' && data.toUpperCase() === 'HEAD' && allowed.includes('GET')) {
        return {
          rule: 'schema/enum',
          path,
          message: 'HEAD cannot be declared: every GET route also answers HEAD, running the GET handler without sending a body',
          hint: 'declare GET instead',
        };
      }
      const guess = typeof data === 'string' ? suggest(data, allowed.filter((v): v is string => typeof v === 'string')) : undefined;
      return {
        rule: 'schema/enum',
        path,
        message: `${name} must be one of ${quoteList(allowed)}, not ${show(data)}${guess ? ` (did you mean '${guess}'?)` : ''}`,
      };
    }
    case 'const':
      return { rule: 'schema/const', path, message: `${name} must be ${JSON.stringify(params.allowedValue)}, not ${show(data)}` };
    case 'pattern': {
      const explanation = (pointer && PATTERN_EXPLAINS[pointer]) || `it must match the pattern ${String(params.pattern)}`;
      const hint = pointer === '/definitions/route/properties/path' && typeof data === 'string' ? pathHint(data) : undefined;
      return {
        rule: 'schema/pattern',
        path,
        message: `${name} ${show(data)} is not valid: ${explanation}`,
        ...(hint ? { hint } : {}),
      };
    }
    case 'minimum':
    case 'maximum':
      return {
        rule: error.keyword === 'minimum' ? 'schema/minimum' : 'schema/maximum',
        path,
        message: `${name} must be ${String(params.comparison)} ${String(params.limit)}, not ${show(data)}`,
      };
    case 'minLength': {
      const limit = Number(params.limit);
      const message =
        limit <= 1
          ? `${name} must not be empty`
          : `${name} must be at least ${limit} characters long (it has ${String(data).length})`;
      return { rule: 'schema/minLength', path, message };
    }
    case 'minItems': {
      const limit = Number(params.limit);
      const message = limit <= 1 ? `${name} must not be an empty list` : `${name} must have at least ${limit} items`;
      return { rule: 'schema/minItems', path, message };
    }
    case 'uniqueItems': {
      const later = Math.max(Number(params.i), Number(params.j));
      const item = Array.isArray(data) ? data[later] : undefined;
      return { rule: 'schema/uniqueItems', path: [...path, later], message: `${name} lists ${show(item)} more than once` };
    }
    case 'anyOf': {
      const known = pointer ? ANY_OF_EXPECTS[pointer] : undefined;
      const expects = known?.expects ?? 'one of the accepted forms';
      return {
        rule: 'schema/anyOf',
        path,
        message: `${name} must be ${expects}, not ${show(data)}`,
        ...(known?.hint ? { hint: known.hint } : {}),
      };
    }
    default:
      return { rule: 'schema/invalid', path, message: `${name} ${error.message ?? 'is invalid'}` };
  }
}

export interface SchemaFindings {
  /** Paths of values found wrong: later checks say nothing more about them. */
  wrongValues: Set<string>;
  /** Paths of keys an unknown key probably misspells: later checks must not read their absence as meaningful. */
  misspelled: Set<string>;
}

/**
 * Reports each schema error once. A required key that an unknown key in the
 * same mapping probably misspells (`metod` for `method`) is not reported
 * again as missing: the typo is the one problem.
 */
export function reportSchemaErrors(schema: CompiledSchema, errors: readonly ErrorObject[], report: Reporter): SchemaFindings {
  const messages = errors.map((e) => explain(schema, e));
  const misspelled = new Set<string>();
  for (const m of messages) {
    if (m.guess) misspelled.add(Reporter.key([...m.path.slice(0, -1), m.guess]));
  }
  const seen = new Set<string>();
  const wrongValues = new Set<string>();
  for (const m of messages) {
    if (m.missing && misspelled.has(Reporter.key([...m.path, m.missing]))) continue;
    const key = JSON.stringify([m.rule, m.path, m.message]);
    if (seen.has(key)) continue;
    seen.add(key);
    if (m.atKey) {
      report.atKey(m.rule, m.path, m.message, m.hint);
    } else {
      report.at(m.rule, m.path, m.message, m.hint);
      if (!m.missing) wrongValues.add(Reporter.key(m.path));
    }
  }
  return { wrongValues, misspelled };
}
