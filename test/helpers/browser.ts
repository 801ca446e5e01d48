import { existsSync } from 'node:fs';
import type { TestContext } from 'node:test';
import { chromium, type Browser } from 'playwright-core';

// The browser tests drive a real headless Chromium: Debian's, at
// /usr/bin/chromium (scripts/test.mjs installs it when it can). Where it is
// missing, each browser test says loudly that it skipped, and
// PORTICO_REQUIRE_BROWSER=1 (for CI, where a skip would hide a regression)
// makes that a failure instead.

const CHROMIUM = '/usr/bin/chromium';

/** Quiet, reproducible runs: no sandbox (containers), GPU, QUIC, first-run UI or background traffic. */
const ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

/**
 * A headless Chromium started with the usual flags plus `extraArgs`, or
 * undefined when there is no Chromium (each test then calls browserMissing).
 */
export async function launchBrowser(extraArgs: string[] = []): Promise<Browser | undefined> {
  if (!existsSync(CHROMIUM)) return undefined;
  return chromium.launch({ executablePath: CHROMIUM, args: [...ARGS, ...extraArgs], timeout: 60_000 });
}

/**
 * True when there is no Chromium: the test `t` is then skipped, with a
 * warning that names it (`what` says which kind of test it is). With
 * PORTICO_REQUIRE_BROWSER=1 a missing browser throws, so the test fails.
 */
export function browserMissing(t: TestContext, what: string): boolean {
  if (existsSync(CHROMIUM)) return false;
  const message = `${CHROMIUM} is missing: SKIPPING ${what} "${t.name}"`;
  if (process.env.PORTICO_REQUIRE_BROWSER === '1') throw new Error(`${message} (PORTICO_REQUIRE_BROWSER=1 makes this a failure)`);
  console.warn(`\n!! ${message}\n`);
  t.skip(message);
  return true;
}

/** Closes what launchBrowser started (nothing when it started nothing). */
export async function closeBrowser(browser: Browser | undefined): Promise<void> {
  await browser?.close();
}
