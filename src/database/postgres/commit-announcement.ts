import { WriteSet, type Committed } from '../write-set.js';

// A commit's WriteSet as the payload of a NOTIFY sent in the committing
// transaction, so it reaches the other instances exactly when (and only if)
// the transaction commits. PostgreSQL caps a payload below 8000 bytes; a
// larger write set is announced as "everything changed".

const MAX_PAYLOAD = 7_900;
const EVERYTHING = '*';

type Entry = [table: string, id: string, keys: Record<string, string> | null];

function announcement(writes: WriteSet): string {
  const entries: Entry[] = writes.changes.map(({ table, id, keys }) => [
    table,
    id,
    keys && Object.fromEntries([...keys].map(([index, key]) => [index, Buffer.from(key, 'latin1').toString('base64')])),
  ]);
  const payload = JSON.stringify({ c: entries, n: writes.catalog ? 1 : 0 });
  // Sent as an SQL literal: quotes are doubled where it is written, and
  // table names, ids and base64 never hold a backslash.
  return payload.length > MAX_PAYLOAD || payload.includes('\\') ? EVERYTHING : payload;
}

export function parseAnnouncement(payload: string): Committed {
  if (payload === EVERYTHING) return 'everything';
  try {
    const { c, n } = JSON.parse(payload) as { c: Entry[]; n: number };
    const writes = new WriteSet();
    writes.catalog = n === 1;
    for (const [table, id, keys] of c) {
      if (keys === null) writes.deleted(table, id);
      else writes.written(table, id, new Map(Object.entries(keys).map(([index, key]) => [index, Buffer.from(key, 'base64')])));
    }
    return writes;
  } catch {
    // Not ours, or garbled: assume the worst.
    return 'everything';
  }
}

/** The NOTIFY for a commit, as an SQL statement (sent with COMMIT in one round trip). */
export function notifyStatement(channel: string, writes: WriteSet): string {
  return `SELECT pg_notify('${channel}', '${announcement(writes).replace(/'/g, "''")}')`;
}
