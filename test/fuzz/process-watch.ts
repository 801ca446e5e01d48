import { readdirSync, readFileSync } from 'node:fs';
import net from 'node:net';

// What a server process holds, read from outside through /proc: open file
// descriptors (sockets, files, pipes) and resident memory. A fuzz run takes
// a baseline once the server is warm, then checks that both come back.

export function openFds(pid: number): number {
  return readdirSync(`/proc/${pid}/fd`).length;
}

export function rssMb(pid: number): number {
  const match = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return match ? Number(match[1]) / 1024 : NaN;
}

/** Waits until the process holds at most `baseline` descriptors; returns the last count seen. */
export async function fdsSettle(pid: number, baseline: number, timeoutMs = 10_000): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  let count = openFds(pid);
  while (count > baseline && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    count = openFds(pid);
  }
  return count;
}

/**
 * One request on a connection of its own that the server closes after
 * answering (fetch would keep it in a pool, and the server's descriptor count
 * with it). Resolves with the status and body.
 */
export function getAndClose(port: number, path: string, headers: Record<string, string> = {}, body?: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    let text = '';
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no answer to ${path} within 10 s; received: ${text.slice(0, 300)}`));
    }, 10_000);
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => (text += chunk));
    socket.on('error', () => {});
    socket.on('close', () => {
      clearTimeout(timer);
      const end = text.indexOf('\r\n\r\n');
      const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(text)?.[1] ?? NaN);
      resolve({ status, body: end === -1 ? '' : text.slice(end + 4) });
    });
    const extra = Object.entries(headers)
      .map(([name, value]) => `${name}: ${value}\r\n`)
      .join('');
    const length = body === undefined ? '' : `Content-Length: ${Buffer.byteLength(body)}\r\n`;
    socket.write(`${body === undefined ? 'GET' : 'POST'} ${path} HTTP/1.1\r\nHost: h.test\r\n${extra}${length}Connection: close\r\n\r\n${body ?? ''}`);
  });
}
