import fc from 'fast-check';
import { isCollection, isMap, isScalar, isSeq, parseDocument, type Document, type Node } from 'yaml';

// Mutated routes.yaml files for the validator fuzz test: a valid config,
// changed in the ways a hurried user, a broken editor or an attacker would
// change it. Text mutations break YAML syntax and encodings; tree mutations
// keep the YAML valid but put wrong types, unknown keys, huge values, deep
// nesting, anchors, aliases and merge keys where the schema expects
// something else; alias bombs stand for billions of values in a few lines.

/** A valid config using most of the schema; the fuzz project's functions/ matches its handlers. */
export const BASE_CONFIG = `# a comment
version: 1
functions: ./functions
server:
  host: 127.0.0.1
  port: 3000
  publicUrl: \${PUBLIC_URL:-http://localhost:3000}
  shutdownTimeout: 30s
limits:
  body: 20mb
  timeout: 120s
backend:
  kind: local
  database: ./.data/portico.sqlite
storage:
  kind: fs
  dir: ./.data/storage
auth:
  providers:
    - issuer: https://auth.example.com
      audience: my-app
      jwks: https://auth.example.com/.well-known/jwks.json
cors:
  origins: ["\${CLIENT_ORIGIN}", "https://*.example.com"]
  allowHeaders: [Content-Type, Digest]
  exposeHeaders: []
  credentials: false
  maxAge: 86400
routes:
  - &first
    path: /postMessage
    method: POST
    handler: messages:postMessage
  - <<: *first
    path: /getMessagesByAuthor
    method: GET
    handler: messages:getByAuthor
  - pathPrefix: /getAuthorMessages/
    method: GET
    handler: messages:getByAuthorPath
  - path: /users/:id
    method: [GET, PATCH]
    handler: users:byId
    auth: required
  - path: /sendImage
    method: POST
    handler: sendImage
    bodyLimit: 50mb
    cors: { allowHeaders: [Content-Type, Digest] }
`;

export const FUNCTIONS = {
  'functions/messages.ts': `
import { httpAction } from 'portico';
const ok = httpAction(async () => new Response('ok'));
export const postMessage = ok;
export const getByAuthor = ok;
export const getByAuthorPath = ok;
`,
  'functions/users.ts': `import { httpAction } from 'portico';\nexport const byId = httpAction(async () => new Response('ok'));\n`,
  'functions/sendImage.ts': `import { httpAction } from 'portico';\nexport default httpAction(async () => new Response('ok'));\n`,
};

// ---- values a mutation puts in ----------------------------------------------

const unicode = fc.oneof(
  fc.string({ unit: 'grapheme', maxLength: 12 }),
  fc.string({ unit: 'binary', maxLength: 12 }),
  fc.constantFrom('é', '日本語', '🦄', '\u202e', '\u200b', '\ufeff', '\u0000', '\u001b[31m', '\ud800', 'a\nb', 'a\r\nb', '\t', '\u2028', '\\'),
);

/** Text that means something to YAML, or to a parser, or to a terminal. */
const token = fc.oneof(
  fc.constantFrom(
    ':', ': ', '- ', '[', ']', '{', '}', ',', '#', '&a ', '*a', '*nope', '<<: *a', '? ', '|', '>-', '!', '!!binary ', '!!js/function ', '!foo ', '%YAML 1.2\n---\n',
    '---\n', '...\n', '"', "'", '`', '@', '%', '\t', '  ', '\n', '\r', '\r\n', '\\u', '${', '${X', '$${', '${UNSET}', '~', 'null', '.nan', '-.inf', '0x1F', '0o17',
    '1e999', '9'.repeat(400), '-0', 'yes', 'NO', '2001-12-14t21:59:43.10-05:00',
  ),
  unicode,
  fc.nat({ max: 300_000 }).map((n) => 'x'.repeat(n)),
);

/** Plain data of any shape: what a tree mutation puts where a value was. */
const data: fc.Arbitrary<unknown> = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.constantFrom(null, true, false, 0, -1, 1.5, 65536, Number.MAX_SAFE_INTEGER, 1e308, -1e308, '', ' ', '/', '*', 'GET', 'required', '20mb', '1 parsec', '-5s'),
    fc.double(),
    fc.bigInt({ min: -(2n ** 200n), max: 2n ** 200n }).map((n) => n.toString()),
    unicode,
    fc.nat({ max: 200_000 }).map((n) => '/'.repeat(n)),
    fc.array(tie('value'), { maxLength: 4 }),
    fc.dictionary(fc.oneof(unicode, fc.constantFrom('path', 'method', 'handler', 'cors', 'origins', 'port', '<<')), tie('value'), { maxKeys: 4 }),
  ),
})).value;

// ---- tree mutations ---------------------------------------------------------

type TreeMutation = (doc: Document.Parsed, pick: (n: number) => number) => void;
const treeStep = (name: string, apply: TreeMutation) => ({ name, apply });

/** Every collection node and the path to it, in document order. */
function collections(doc: Document.Parsed): { node: Node; path: unknown[] }[] {
  const found: { node: Node; path: unknown[] }[] = [];
  const visit = (node: unknown, path: unknown[]) => {
    if (!isCollection(node)) return;
    found.push({ node, path });
    if (isMap(node)) for (const pair of node.items) visit(pair.value, [...path, isScalar(pair.key) ? pair.key.value : pair.key]);
    if (isSeq(node)) node.items.forEach((item, i) => visit(item, [...path, i]));
  };
  visit(doc.contents, []);
  return found;
}

function someCollection(doc: Document.Parsed, pick: (n: number) => number) {
  const all = collections(doc);
  return all[pick(all.length)]!;
}

function entryKeys(node: Node): unknown[] {
  if (isMap(node)) return node.items.map((p) => (isScalar(p.key) ? p.key.value : p.key));
  if (isSeq(node)) return node.items.map((_, i) => i);
  return [];
}

/** One tree mutation, with the data and sizes it uses. */
const treeMutation = fc.oneof(
  data.map((value) =>
    treeStep(`set a value to ${short(value)}`, (doc, pick) => {
      const { node, path } = someCollection(doc, pick);
      const keys = entryKeys(node);
      if (keys.length > 0) doc.setIn([...path, keys[pick(keys.length)]], doc.createNode(value));
    }),
  ),
  fc.tuple(unicode, fc.constantFrom('path', 'metod', 'Method', 'handlr', 'routes', 'version', '<<', '')).map(([a, b]) =>
    treeStep(`rename a key to ${JSON.stringify(a + b).slice(0, 40)}`, (doc, pick) => {
      const { node } = someCollection(doc, pick);
      if (isMap(node) && node.items.length > 0) node.items[pick(node.items.length)]!.key = doc.createNode(a + b);
    }),
  ),
  fc.tuple(fc.integer({ min: 1, max: 3000 }), fc.boolean()).map(([depth, asMaps]) =>
    treeStep(`nest a value ${depth} levels deep in ${asMaps ? 'mappings' : 'lists'}`, (doc, pick) => {
      const { node, path } = someCollection(doc, pick);
      const keys = entryKeys(node);
      if (keys.length === 0) return;
      let value: unknown = 'leaf';
      for (let i = 0; i < depth; i++) value = asMaps ? { k: value } : [value];
      doc.setIn([...path, keys[pick(keys.length)]], doc.createNode(value));
    }),
  ),
  fc.boolean().map((merge) =>
    treeStep(merge ? 'merge an anchored node into a mapping (maybe its own child)' : 'alias an anchored node somewhere else (maybe inside itself)', (doc, pick) => {
      const from = someCollection(doc, pick);
      const to = someCollection(doc, pick);
      const alias = doc.createAlias(from.node as Parameters<typeof doc.createAlias>[0], 'a');
      if (merge && isMap(to.node)) to.node.set(doc.createNode('<<'), alias);
      else {
        const keys = entryKeys(to.node);
        if (keys.length > 0) doc.setIn([...to.path, keys[pick(keys.length)]], alias);
      }
    }),
  ),
);

function short(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 40 ? `${text.slice(0, 40)}… (${text.length} chars)` : text;
}

// ---- text mutations ---------------------------------------------------------

type TextMutation = (text: string, pick: (n: number) => number) => string;
const textStep = (name: string, apply: TextMutation) => ({ name, apply });

const textMutation = fc.oneof(
  token.map((t) => textStep(`insert ${short(t)}`, (text, pick) => ((at) => text.slice(0, at) + t + text.slice(at))(pick(text.length + 1)))),
  fc.nat({ max: 40 }).map((n) => textStep(`delete ${n} characters`, (text, pick) => ((at) => text.slice(0, at) + text.slice(at + n))(pick(text.length + 1)))),
  token.map((t) => textStep(`replace a line's value with ${short(t)}`, (text, pick) => editLine(text, pick, (line) => line.replace(/:\s.*$/, `: ${t}`)))),
  fc.integer({ min: -4, max: 4 }).map((n) => textStep(`indent a line by ${n}`, (text, pick) => editLine(text, pick, (line) => (n >= 0 ? ' '.repeat(n) + line : line.slice(-n))))),
  fc.constant(textStep('duplicate a line', (text, pick) => editLine(text, pick, (line) => `${line}\n${line}`))),
  fc.constant(textStep('truncate the file', (text, pick) => text.slice(0, pick(text.length + 1)))),
  fc.constant(textStep('tabs for indentation', (text) => text.replace(/^ {2}/gm, '\t'))),
);

function editLine(text: string, pick: (n: number) => number, edit: (line: string) => string): string {
  const lines = text.split('\n');
  const i = pick(lines.length);
  lines[i] = edit(lines[i]!);
  return lines.join('\n');
}

// ---- whole files ------------------------------------------------------------

/** The billion laughs: `width` aliases per level, `depth` levels, under a key the schema knows or not. */
export function aliasBomb(width: number, depth: number, under: string): string {
  const levels = [`  l0: &l0 ["lol"]`];
  for (let i = 1; i < depth; i++) levels.push(`  l${i}: &l${i} [${Array(width).fill(`*l${i - 1}`).join(', ')}]`);
  return `version: 1\nfunctions: ./functions\n${under}:\n${levels.join('\n')}\nroutes: []\n`;
}

const bomb = fc
  .tuple(fc.integer({ min: 2, max: 12 }), fc.integer({ min: 3, max: 14 }), fc.constantFrom('server', 'cors', 'x', 'routes'))
  .map(([width, depth, under]) => ({ text: aliasBomb(width, depth, under), steps: [`an alias bomb ${width} wide, ${depth} deep, under ${under}`] }));

/** Many routes merging one anchored route: the usual way to share settings. */
export function manyMerges(count: number): string {
  const routes = [`  - &shared { path: /r0, method: GET, handler: "messages:getByAuthor" }`];
  for (let i = 1; i < count; i++) routes.push(`  - { <<: *shared, path: /r${i} }`);
  return `version: 1\nfunctions: ./functions\nroutes:\n${routes.join('\n')}\n`;
}

export interface MutatedConfig {
  text: string;
  /** What was done, for the failure message. */
  steps: string[];
}

/** A mutated config: a few tree and text mutations of BASE_CONFIG, an alias bomb, or many merges. */
export const mutatedConfig: fc.Arbitrary<MutatedConfig> = fc.oneof(
  { weight: 8, arbitrary: mutations() },
  { weight: 1, arbitrary: bomb },
  { weight: 1, arbitrary: fc.integer({ min: 1, max: 600 }).map((n) => ({ text: manyMerges(n), steps: [`${n} routes merging one anchor`] })) },
);

function mutations(): fc.Arbitrary<MutatedConfig> {
  return fc
    .tuple(fc.array(treeMutation, { maxLength: 3 }), fc.array(textMutation, { maxLength: 3 }), fc.array(fc.nat(), { minLength: 16, maxLength: 16 }))
    .map(([tree, text, choices]) => {
      let next = 0;
      // Positions are drawn from a fixed list so that a case shrinks and replays.
      const pick = (n: number) => (n <= 0 ? 0 : choices[next++ % choices.length]! % n);
      const doc = parseDocument(BASE_CONFIG, { merge: true });
      const steps: string[] = [];
      for (const m of tree) {
        try {
          m.apply(doc, pick);
          steps.push(m.name);
        } catch (error) {
          // setIn refuses some paths (through an alias, say): the mutation is skipped.
          steps.push(`(skipped: ${m.name}: ${(error as Error).message})`);
        }
      }
      let result = tree.length > 0 ? safeToString(doc, steps) : BASE_CONFIG;
      for (const m of text) {
        result = m.apply(result, pick);
        steps.push(m.name);
      }
      return { text: result, steps };
    });
}

/** The `yaml` package refuses to print a few trees it can build (an alias to a node without an anchor it can print). */
function safeToString(doc: Document.Parsed, steps: string[]): string {
  try {
    return doc.toString({ lineWidth: 0 });
  } catch (error) {
    steps.push(`(the mutated tree did not print: ${(error as Error).message}; used the base)`);
    return BASE_CONFIG;
  }
}
