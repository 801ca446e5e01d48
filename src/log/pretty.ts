import { logTap } from './log-tap.js';
// The log as a person reads it on a terminal. pino writes each line as JSON
// into this stream, which prints:
//
//   12:01:02 GET /tags/z 200 18.9ms notes:byTag 3802bffc…
//       LOG loading tag z
//       ERROR handler failed: boom
//         Error: boom
//             at handler (functions/notes.ts:12:11)
//
// one line per request, coloured by status; the lines a request's code
// logged (console.*, its failure with the stack, once) indented under it.
// They are written before the request ends, so they are held until its
// request line, or printed on their own after HOLD_MS (a long stream).
// Any other line is `time LEVEL message key=value...`.

const HOLD_MS = 2000;
const MAX_HELD_REQUESTS = 1000;
// `changes` (of a reload) is spelled out in its message already.
const HIDDEN = new Set(['level', 'time', 'pid', 'hostname', 'msg', 'err', 'reqId', 'console', 'source', 'changes']);
const LEVELS: Record<number, string> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' };

interface Line {
  level: number;
  time: number;
  msg?: string;
  reqId?: string;
  err?: { type?: string; message?: string; stack?: string };
  console?: string;
  [field: string]: unknown;
}

export function colourWanted(stream: { isTTY?: boolean }, env: Record<string, string | undefined> = process.env): boolean {
  if (env.FORCE_COLOR !== undefined && env.FORCE_COLOR !== '0') return true;
  return stream.isTTY === true && env.NO_COLOR === undefined;
}

export class PrettyStream {
  private readonly held = new Map<string, { lines: string[]; timer: NodeJS.Timeout }>();

  constructor(
    private readonly out: (text: string) => void,
    private readonly colour: boolean,
  ) {}

  /** Called by pino with one JSON line. */
  write(json: string): void {
    if (logTap !== null) logTap(json);
    let line: Line;
    try {
      line = JSON.parse(json) as Line;
    } catch {
      this.out(json);
      return;
    }
    if (line.msg === 'request' && typeof line.method === 'string' && typeof line.reqId === 'string') {
      this.out(`${this.requestLine(line)}\n`);
      this.release(line.reqId, false);
      return;
    }
    if (typeof line.reqId === 'string') {
      this.hold(line.reqId, this.indented(line));
      return;
    }
    this.out(`${this.plainLine(line)}\n`);
  }

  /** Prints whatever is still held (before the process exits). */
  flush(): void {
    for (const reqId of [...this.held.keys()]) this.release(reqId, true);
  }

  private requestLine(line: Line): string {
    const status = Number(line.status);
    const colour = status >= 500 ? 31 : status >= 400 ? 33 : status >= 300 ? 36 : 32;
    const handler = (line.handler as string | null) ?? (line.route as string | null) ?? '-';
    const parts = [
      this.paint(2, clock(line.time)),
      `${line.method} ${line.path}`,
      this.paint(colour, String(status)),
      duration(Number(line.ms)),
      handler,
      this.paint(2, shortId(line.reqId!)),
    ];
    if (line.aborted) parts.push(this.paint(33, 'client closed the connection'));
    return parts.join(' ');
  }

  /** A line of a request's code: its level (or console method), message and stack. */
  private indented(line: Line): string[] {
    const label = line.console ? line.console.toUpperCase() : (LEVELS[line.level] ?? String(line.level));
    const fields = this.fields(line);
    const lines = [`    ${this.paint(levelColour(line.level), label)} ${line.msg ?? ''}${fields ? ` ${fields}` : ''}`];
    if (line.err?.stack) lines.push(...line.err.stack.split('\n').map((text) => `      ${this.paint(2, text)}`));
    else if (line.err?.message) lines.push(`      ${line.err.message}`);
    return lines;
  }

  private plainLine(line: Line): string {
    const label = (LEVELS[line.level] ?? String(line.level)).padEnd(5);
    const fields = this.fields(line);
    const text = `${this.paint(2, clock(line.time))} ${this.paint(levelColour(line.level), label)} ${line.msg ?? ''}${fields ? ` ${this.paint(2, fields)}` : ''}`;
    const stack = line.err?.stack ? `\n${line.err.stack.split('\n').map((row) => `    ${row}`).join('\n')}` : '';
    return text + stack;
  }

  private fields(line: Line): string {
    return Object.entries(line)
      .filter(([key]) => !HIDDEN.has(key))
      .map(([key, value]) => `${key}=${typeof value === 'string' ? shortHash(value) : JSON.stringify(value)}`)
      .join(' ');
  }

  private hold(reqId: string, lines: string[]): void {
    const entry = this.held.get(reqId);
    if (entry) {
      entry.lines.push(...lines);
      return;
    }
    if (this.held.size >= MAX_HELD_REQUESTS) this.release(this.held.keys().next().value!, true);
    const timer = setTimeout(() => this.release(reqId, true), HOLD_MS);
    timer.unref();
    this.held.set(reqId, { lines, timer });
  }

  /** Prints a request's held lines: under its request line, or alone with its id. */
  private release(reqId: string, alone: boolean): void {
    const entry = this.held.get(reqId);
    if (!entry) return;
    clearTimeout(entry.timer);
    this.held.delete(reqId);
    const head = alone ? `${this.paint(2, `${' '.repeat(9)}(request ${shortId(reqId)})`)}\n` : '';
    this.out(`${head}${entry.lines.join('\n')}\n`);
  }

  private paint(code: number, text: string): string {
    return this.colour ? `\u001b[${code}m${text}\u001b[0m` : text;
  }
}

function levelColour(level: number): number {
  return level >= 50 ? 31 : level >= 40 ? 33 : level >= 30 ? 36 : 2;
}

function clock(time: number): string {
  const date = new Date(time);
  return [date.getHours(), date.getMinutes(), date.getSeconds()].map((n) => String(n).padStart(2, '0')).join(':');
}

function duration(ms: number): string {
  if (!Number.isFinite(ms)) return '-';
  return ms < 100 ? `${ms.toFixed(1)}ms` : ms < 10_000 ? `${Math.round(ms)}ms` : `${(ms / 1000).toFixed(1)}s`;
}

/** A sha256 (configHash, codeHash) as its first 12 digits: enough to tell versions apart. */
function shortHash(value: string): string {
  return /^[0-9a-f]{64}$/.test(value) ? `${value.slice(0, 12)}…` : value;
}

/** The first 8 characters of a request id, enough to find it in the JSON log. */
function shortId(reqId: string): string {
  return reqId.length > 9 ? `${reqId.slice(0, 8)}…` : reqId;
}
