#!/usr/bin/env node
// The direction of src/, checked from the code itself. Each folder may import
// from folders on a lower level, and from peers on its own level as long as
// no circle forms; no module may sit on a circle of imports, inside a folder
// or across folders. Type-only imports count: a type from an upper layer is
// a tie to it all the same. `npm test` runs this through
// test/project/architecture.test.ts; `node scripts/architecture.mjs` prints
// the folder graph and any violation.
//
// (dependency-cruiser would be the usual tool, but it reads TypeScript through
// the compiler's JavaScript API, which TypeScript 7 no longer ships. The
// project's imports are all static `from '...'` clauses or literal
// `import('...')` calls, so reading them directly is exact.)
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** Top to bottom: data flows down this list. */
export const LEVELS = [
  ['cli'],
  ['server'],
  ['gateway', 'api', 'dashboard'],
  ['routing', 'cors', 'backends', 'proxy', 'openapi', 'policies', 'codegen'],
  ['functions', 'storage', 'auth', 'scheduler'],
  ['database'],
  ['config', 'http', 'values', 'log', 'metrics'],
];

const IMPORT = /(?:\bfrom\s*|\bimport\s*\(\s*|^\s*import\s+)'(\.{1,2}\/[^']+)'/gm;

/** Every module of `srcDir` and the modules it imports (relative paths from srcDir). */
export function importGraph(srcDir) {
  const graph = new Map();
  const walk = (dir) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (entry.name.endsWith('.ts')) {
        const from = path.relative(srcDir, full);
        const targets = new Set();
        for (const match of readFileSync(full, 'utf8').matchAll(IMPORT)) {
          const target = path.relative(srcDir, path.resolve(path.dirname(full), match[1])).replace(/\.js$/, '.ts');
          targets.add(target);
        }
        graph.set(from, targets);
      }
    }
  };
  walk(srcDir);
  return graph;
}

const folderOf = (module) => (module.includes(path.sep) ? module.split(path.sep)[0] : '(root)');

/** Imports that go up a level, as `from -> to` lines. */
export function upwardImports(graph, levels = LEVELS) {
  const level = new Map(levels.flatMap((names, i) => names.map((name) => [name, i])));
  const problems = [];
  for (const [from, targets] of graph) {
    const source = folderOf(from);
    if (!level.has(source)) continue; // the public entry files at the root
    for (const to of targets) {
      const target = folderOf(to);
      if (!level.has(target)) {
        problems.push(`${from} -> ${to}: folder src/${target}/ has no level in scripts/architecture.mjs`);
      } else if (level.get(target) < level.get(source)) {
        problems.push(`${from} -> ${to}: ${source} may not import ${target}, which sits above it`);
      }
    }
  }
  return problems;
}

/** Circles of modules (Tarjan's strongly connected components of size > 1, or a self-import). */
export function circles(graph) {
  let next = 0;
  const index = new Map();
  const low = new Map();
  const stack = [];
  const onStack = new Set();
  const found = [];
  const visit = (node) => {
    index.set(node, next);
    low.set(node, next++);
    stack.push(node);
    onStack.add(node);
    for (const to of graph.get(node) ?? []) {
      if (!graph.has(to)) continue;
      if (!index.has(to)) {
        visit(to);
        low.set(node, Math.min(low.get(node), low.get(to)));
      } else if (onStack.has(to)) {
        low.set(node, Math.min(low.get(node), index.get(to)));
      }
    }
    if (low.get(node) === index.get(node)) {
      const component = [];
      let member;
      do {
        member = stack.pop();
        onStack.delete(member);
        component.push(member);
      } while (member !== node);
      if (component.length > 1 || graph.get(node)?.has(node)) found.push(component.sort());
    }
  };
  for (const node of graph.keys()) if (!index.has(node)) visit(node);
  return found;
}

/** The same graph one level up: which folders import which. */
export function folderGraph(graph) {
  const folders = new Map();
  for (const [from, targets] of graph) {
    const source = folderOf(from);
    if (!folders.has(source)) folders.set(source, new Set());
    for (const to of targets) if (folderOf(to) !== source) folders.get(source).add(folderOf(to));
  }
  return folders;
}

/** Folder-to-folder edges with their counts, for reading. */
export function folderEdges(graph) {
  const edges = new Map();
  for (const [from, targets] of graph) {
    for (const to of targets) {
      const a = folderOf(from);
      const b = folderOf(to);
      if (a !== b) edges.set(`${a} -> ${b}`, (edges.get(`${a} -> ${b}`) ?? 0) + 1);
    }
  }
  return [...edges].sort(([a], [b]) => a.localeCompare(b));
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const srcDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../src');
  const graph = importGraph(srcDir);
  for (const [edge, count] of folderEdges(graph)) console.log(`${edge} (${count})`);
  const problems = [
    ...upwardImports(graph),
    ...circles(graph).map((circle) => `circle of modules: ${circle.join(' <-> ')}`),
    ...circles(folderGraph(graph)).map((circle) => `circle of folders: ${circle.join(' <-> ')}`),
  ];
  for (const problem of problems) console.error(problem);
  process.exitCode = problems.length ? 1 : 0;
}
