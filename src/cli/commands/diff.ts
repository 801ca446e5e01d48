import { execFile } from 'node:child_process';
import { access, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { formatText } from '../../config/diagnostics.js';
import { loadConfig } from '../../config/load.js';
import type { PorticoConfig } from '../../config/types.js';
import { diffConfigs, type Change } from '../config-diff.js';
import { EXIT, parse, UsageError, type Command, type Io } from '../command.js';

// portico diff OLD NEW [--format text|json|github]
// What changed between two configs, breaking changes marked; exit 1 when
// there is one, so a CI job can ask for a review. OLD (or NEW) may be a
// git revision and a path, as git show takes it: HEAD~1:routes.yaml.

const FORMATS = ['text', 'json', 'github'] as const;
const run = promisify(execFile);

export const diff: Command = {
  name: 'diff',
  summary: 'compare two configs and mark breaking changes (exit 1 when there is one)',
  usage: 'portico diff OLD NEW [options]',
  positionals: 'OLD NEW: config files; either may be REV:PATH from git (HEAD~1:routes.yaml).',
  options: [{ name: 'format', type: 'string', value: 'FORMAT', default: 'text', description: 'text, json, or github (Actions annotations)' }],
  exitCodes: ['1  a breaking change (or a config that does not load)'],
  async run(argv, io) {
    const { values, positionals } = parse(argv, diff.options, true);
    const format = (values.format ?? 'text') as (typeof FORMATS)[number];
    if (!FORMATS.includes(format)) throw new UsageError(`--format must be one of ${FORMATS.join(', ')}, got "${format}"`);
    if (positionals.length !== 2) throw new UsageError('give two configs: OLD NEW');
    const [oldSpec, newSpec] = positionals as [string, string];
    const scratch = await mkdtemp(path.join(os.tmpdir(), 'portico-diff-'));
    const cleanups: string[] = [];
    try {
      const before = await load(oldSpec, io, scratch, 'old', cleanups);
      const after = await load(newSpec, io, scratch, 'new', cleanups);
      if (before === null || after === null) return EXIT.failed;
      const changes = diffConfigs(before, after);
      io.out(render(changes, format, newSpec));
      return changes.some((change) => change.breaking) ? EXIT.failed : EXIT.ok;
    } finally {
      await Promise.all([scratch, ...cleanups].map((temporary) => rm(temporary, { recursive: true, force: true })));
    }
  },
};

/** A config from a file, or from git (REV:PATH) when no such file exists. */
async function load(spec: string, io: Io, scratch: string, name: string, cleanups: string[]): Promise<PorticoConfig | null> {
  let file = path.resolve(io.cwd, spec);
  const exists = await access(file).then(
    () => true,
    () => false,
  );
  if (!exists) {
    const colon = spec.indexOf(':');
    if (colon <= 0) throw new UsageError(`${spec}: no such file (a git revision is written REV:PATH, e.g. HEAD~1:routes.yaml)`);
    let text: string;
    try {
      text = (await run('git', ['show', spec], { cwd: io.cwd, maxBuffer: 64 * 1024 * 1024 })).stdout;
    } catch (error) {
      throw new UsageError(`${spec}: git cannot show it (${((error as { stderr?: string }).stderr ?? (error as Error).message).trim()})`);
    }
    // Beside where the file sits in the working tree, so that what it names
    // by relative path (functions/, a JWKS file, .env) resolves as it did.
    const inRepo = spec.slice(colon + 1);
    const top = await run('git', ['rev-parse', '--show-toplevel'], { cwd: io.cwd }).then((r) => r.stdout.trim(), () => io.cwd);
    const original = /^\.\.?\//.test(inRepo) ? path.resolve(io.cwd, inRepo) : path.join(top, inRepo);
    const home = await access(path.dirname(original)).then(() => path.dirname(original), () => path.join(scratch, name));
    await mkdir(home, { recursive: true });
    file = path.join(home, `.${path.basename(original)}.${name}-${path.basename(scratch)}.yaml`);
    cleanups.push(file);
    await writeFile(file, text);
  }
  // The environment may lack the secrets a config names; they do not change its routes.
  const { config, diagnostics } = await loadConfig(file, { env: io.env, envOptional: true });
  if (config === null) io.err(`${spec}: does not load\n${formatText(diagnostics, { cwd: io.cwd, files: [{ file }] })}\n`);
  return config;
}

function render(changes: Change[], format: (typeof FORMATS)[number], newSpec: string): string {
  const breaking = changes.filter((change) => change.breaking).length;
  if (format === 'json') return `${JSON.stringify({ breaking, changes }, null, 2)}\n`;
  if (format === 'github') {
    const file = newSpec.includes(':') && !newSpec.startsWith('/') ? newSpec.slice(newSpec.indexOf(':') + 1) : newSpec;
    const escape = (text: string) => text.replace(/%/g, '%25').replace(/\r/g, '%0D').replace(/\n/g, '%0A');
    const lines = changes.map((c) => `::${c.breaking ? 'error' : 'notice'} file=${file},title=${c.breaking ? 'Breaking API change' : 'API change'}::${escape(c.message)}`);
    return `${[...lines, `${changes.length} change(s), ${breaking} breaking`].join('\n')}\n`;
  }
  if (changes.length === 0) return 'no changes\n';
  const lines = changes.map((c) => `${c.breaking ? 'BREAKING' : '        '}  ${c.kind.padEnd(7)}  ${c.message}`);
  return `${[...lines, '', `${changes.length} change(s), ${breaking} breaking`].join('\n')}\n`;
}
