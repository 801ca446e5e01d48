import { createHmac, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

// Who may see the dashboard. A session is a cookie the server can check
// without remembering anything: an expiry time and its HMAC under the admin
// key, so every worker and every restart accepts it, and changing the admin
// key ends every session. HttpOnly (no script reads it), SameSite=Strict
// (no other site's page sends it), Secure over https.

const COOKIE = 'portico_dashboard';
const SESSION_SECONDS = 12 * 60 * 60;
export const DASHBOARD_PATH = '/_portico/dashboard';

function sign(adminKey: string, expires: number): string {
  return createHmac('sha256', adminKey).update(`portico-dashboard-session:${expires}`).digest('base64url');
}

export function sessionCookie(adminKey: string, secure: boolean, now = Date.now()): string {
  const expires = Math.floor(now / 1000) + SESSION_SECONDS;
  return `${COOKIE}=${expires}.${sign(adminKey, expires)}; Path=${DASHBOARD_PATH}; Max-Age=${SESSION_SECONDS}; HttpOnly; SameSite=Strict${secure ? '; Secure' : ''}`;
}

export function clearedCookie(secure: boolean): string {
  return `${COOKIE}=; Path=${DASHBOARD_PATH}; Max-Age=0; HttpOnly; SameSite=Strict${secure ? '; Secure' : ''}`;
}

export function hasSession(req: IncomingMessage, adminKey: string, now = Date.now()): boolean {
  const header = req.headers.cookie;
  if (!header) return false;
  for (const part of header.split(';')) {
    const [name, value] = part.trim().split('=', 2) as [string, string | undefined];
    if (name !== COOKIE || !value) continue;
    const dot = value.indexOf('.');
    const expires = Number(value.slice(0, dot));
    if (dot < 1 || !Number.isSafeInteger(expires) || expires * 1000 < now) continue;
    if (equal(value.slice(dot + 1), sign(adminKey, expires))) return true;
  }
  return false;
}

export function equal(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && timingSafeEqual(left, right);
}

/** Over https: TLS here, or a proxy in front that says so. */
export function isSecure(req: IncomingMessage): boolean {
  return (req.socket as { encrypted?: boolean }).encrypted === true || req.headers['x-forwarded-proto'] === 'https';
}

/**
 * `portico dev` opens the dashboard without a key, but only to this machine:
 * a loopback peer that also names a loopback host (so a web page that
 * rebinds its own name to 127.0.0.1 is not let in).
 */
export function isLoopbackVisit(req: IncomingMessage): boolean {
  const peer = req.socket.remoteAddress ?? '';
  const loopbackPeer = peer === '::1' || peer.startsWith('127.') || peer.startsWith('::ffff:127.');
  const host = (req.headers.host ?? '').replace(/:\d+$/, '').toLowerCase();
  const loopbackHost = host === 'localhost' || host === '[::1]' || /^127(\.\d{1,3}){3}$/.test(host);
  return loopbackPeer && loopbackHost;
}

let devMode = false;

/** `portico dev` calls this: the dashboard opens on loopback without the admin key. */
export function openDashboardOnLoopback(): void {
  devMode = true;
}

export function dashboardDevMode(): boolean {
  return devMode;
}
