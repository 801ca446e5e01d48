#!/usr/bin/env node
// Summarises a V8 CPU profile (`npm run bench -- --profile` writes them to
// bench/.work/profiles/<server>/): the functions with the most self time,
// and the most inclusive time, as shares of the whole profile.
//
//   node bench/profile.mjs bench/.work/profiles/portico/CPU.*.cpuprofile [rows]
import { readFileSync } from 'node:fs';

const [file, rowsArg = '40'] = process.argv.slice(2);
if (!file) {
  console.error('usage: node bench/profile.mjs FILE.cpuprofile [rows]');
  process.exit(2);
}
const rows = Number(rowsArg);
const profile = JSON.parse(readFileSync(file, 'utf8'));

const nodes = new Map(profile.nodes.map((node) => [node.id, node]));
const parentOf = new Map();
for (const node of profile.nodes) for (const child of node.children ?? []) parentOf.set(child, node.id);

// Time per sampled node: each sample lasts until the next one.
const timeOf = new Map();
let total = 0;
profile.samples.forEach((id, i) => {
  const delta = profile.timeDeltas[i] ?? 0;
  timeOf.set(id, (timeOf.get(id) ?? 0) + delta);
  total += delta;
});

const nameOf = ({ callFrame: frame }) => `${frame.functionName || '(anonymous)'} ${frame.url.split('/').slice(-2).join('/')}:${frame.lineNumber + 1}`;
const self = new Map();
const inclusive = new Map();
for (const [id, time] of timeOf) {
  const name = nameOf(nodes.get(id));
  self.set(name, (self.get(name) ?? 0) + time);
  // Each function counts once per sample, however often it recurses.
  const seen = new Set();
  for (let at = id; at !== undefined; at = parentOf.get(at)) {
    const frame = nameOf(nodes.get(at));
    if (seen.has(frame)) continue;
    seen.add(frame);
    inclusive.set(frame, (inclusive.get(frame) ?? 0) + time);
  }
}

const table = (title, counts) => {
  console.log(`\n${title}`);
  for (const [name, time] of [...counts].sort((a, b) => b[1] - a[1]).slice(0, rows)) {
    console.log(`${((100 * time) / total).toFixed(1).padStart(6)}%  ${name}`);
  }
};
console.log(`${file}: ${(total / 1e6).toFixed(2)} s sampled`);
table('self time', self);
table('inclusive time', inclusive);
