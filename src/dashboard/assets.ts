import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

// The dashboard's page, script and style ship in the package
// (assets/dashboard/), are read once when the dashboard is first used, and
// served from memory: no CDN, no network, no build step.

const FOLDER = new URL('../../assets/dashboard/', import.meta.url);

const FILES: Record<string, { file: string; type: string }> = {
  '/': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/app.js': { file: 'app.js', type: 'text/javascript; charset=utf-8' },
  '/app.css': { file: 'app.css', type: 'text/css; charset=utf-8' },
};

let loaded: Map<string, { type: string; body: Buffer }> | null = null;

export function dashboardAsset(path: string): { type: string; body: Buffer } | null {
  loaded ??= new Map(Object.entries(FILES).map(([route, { file, type }]) => [route, { type, body: readFileSync(fileURLToPath(new URL(file, FOLDER))) }]));
  return loaded.get(path) ?? null;
}
