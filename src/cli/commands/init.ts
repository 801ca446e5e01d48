import { existsSync, realpathSync } from 'node:fs';
import { copyFile, mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { EXIT, parse, UsageError, type Command } from '../command.js';

// portico init [DIR]
// Writes a working project from templates/app (shipped with the package):
// routes.yaml, functions/ (an HTTP action, a query, a mutation, a schema),
// a tsconfig that type-checks functions/, .gitignore and package.json with
// dev/start/validate scripts. It never overwrites: if any file it would
// write exists, it writes nothing and says which.

const PACKAGE_ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const TEMPLATE = path.join(PACKAGE_ROOT, 'templates', 'app');
// npm leaves out files named .gitignore when it packs a package.
const RENAMED: Record<string, string> = { gitignore: '.gitignore' };

export const init: Command = {
  name: 'init',
  summary: 'write a new project (routes.yaml, functions/, package.json) into a folder',
  usage: 'portico init [DIR]',
  positionals: 'DIR: the project folder, created if needed (default: the current folder). Existing files are never overwritten.',
  options: [],
  environment: ['(none)'],
  exitCodes: ['1  a file it would write already exists (nothing is written)'],
  async run(argv, io) {
    const { positionals } = parse(argv, [], true);
    if (positionals.length > 1) throw new UsageError(`init takes one folder; unexpected "${positionals[1]}"`);
    const dir = path.resolve(io.cwd, positionals[0] ?? '.');
    const files = await templateFiles(TEMPLATE);
    const targets = [...files.map((file) => RENAMED[file] ?? file), 'package.json'];
    const existing = targets.filter((file) => existsSync(path.join(dir, file)));
    if (existing.length > 0) {
      io.err(`portico init: ${path.relative(io.cwd, dir) || '.'} already has ${existing.join(', ')}; nothing was written (init never overwrites).\n`);
      return EXIT.failed;
    }
    for (const file of files) {
      const target = path.join(dir, RENAMED[file] ?? file);
      await mkdir(path.dirname(target), { recursive: true });
      await copyFile(path.join(TEMPLATE, file), target);
    }
    await writeFile(path.join(dir, 'package.json'), `${JSON.stringify(await packageJson(dir), null, 2)}\n`);

    const cd = path.relative(io.cwd, dir);
    io.out(
      [
        `Wrote a Portico project in ${cd || 'this folder'}: ${targets.join(', ')}`,
        '',
        'Next:',
        ...(cd ? [`  cd ${cd}`] : []),
        '  npm install',
        '  npm run dev          # serves http://localhost:3000 and reloads on every save',
        '',
        'Then try:',
        `  curl -X POST localhost:3000/notes -H 'content-type: application/json' -d '{"text":"hello"}'`,
        '  curl localhost:3000/notes',
        '',
      ].join('\n'),
    );
    return EXIT.ok;
  },
};

async function templateFiles(dir: string, prefix = ''): Promise<string[]> {
  const files: string[] = [];
  for (const entry of await readdir(path.join(dir, prefix), { withFileTypes: true })) {
    const relative = path.join(prefix, entry.name);
    if (entry.isDirectory()) files.push(...(await templateFiles(dir, relative)));
    else files.push(relative);
  }
  return files.sort();
}

/**
 * The project's package.json. Portico is named the way this copy was
 * installed: from a folder (a clone) as `file:` that folder, so `npm
 * install` links the same copy; from a registry by its version. TypeScript
 * and Node's types follow the versions Portico itself is built with.
 */
async function packageJson(dir: string) {
  const self = JSON.parse(await readFile(path.join(PACKAGE_ROOT, 'package.json'), 'utf8')) as { version: string; devDependencies?: Record<string, string> };
  const root = realpathSync(PACKAGE_ROOT);
  const fromFolder = !root.split(path.sep).includes('node_modules');
  const relative = path.relative(dir, root).split(path.sep).join('/');
  const name = path.basename(dir).toLowerCase().replace(/[^a-z0-9._-]+/g, '-').replace(/^[._-]+/, '') || 'portico-app';
  return {
    name,
    version: '0.1.0',
    private: true,
    type: 'module',
    scripts: {
      dev: 'portico dev',
      start: 'portico serve',
      validate: 'portico validate',
      typecheck: 'tsc',
    },
    dependencies: {
      portico: fromFolder ? `file:${relative.startsWith('.') ? relative : `./${relative}`}` : `^${self.version}`,
    },
    devDependencies: {
      '@types/node': self.devDependencies?.['@types/node'] ?? '^20.0.0',
      typescript: self.devDependencies?.typescript ?? '^5.0.0',
    },
  };
}
