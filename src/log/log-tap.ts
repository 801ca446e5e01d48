// A second reader of every log line: the dashboard's log history. The
// logger's streams hand each JSON line here as well as to stdout; with no
// tap set (the dashboard turned off) that costs one comparison per line.

export type LogTap = (jsonLine: string) => void;

export let logTap: LogTap | null = null;

export function setLogTap(tap: LogTap | null): void {
  logTap = tap;
}
