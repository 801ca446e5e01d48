import { createHash } from 'node:crypto';

// SQL names of document tables, key columns and indexes on PostgreSQL.
//
// PostgreSQL cuts identifiers at 63 bytes without an error, and table and
// index names may be 64 characters (schema-definition.ts): two long names
// that differ only past the cut would share one table or column. A name
// that does not fit keeps a readable prefix and ends in a hash of the whole
// name, under a prefix of its own (`tx_`, `kx_`, `ix_`) that no natural
// name (`t_`, `k_`, `i_` then a letter) can take.
//
// Indexes share one namespace with tables, hence `i_` rather than `t_`;
// and `i_<table>__<index>` is only unambiguous when the table name has no
// `__` of its own (table `a__b` index `c` against table `a` index `b__c`).
// Names are ASCII ([A-Za-z0-9_]), so characters are bytes.

const MAX_BYTES = 63;
const HASH_CHARS = 16;

const hashed = new Map<string, string>();

function shortened(prefix: 'tx' | 'kx' | 'ix', readable: string, key: string): string {
  const cacheKey = `${prefix}:${key}`;
  let name = hashed.get(cacheKey);
  if (name === undefined) {
    const hash = createHash('sha256').update(key).digest('hex').slice(0, HASH_CHARS);
    const room = MAX_BYTES - prefix.length - 2 - HASH_CHARS;
    name = `${prefix}_${readable.slice(0, room)}_${hash}`;
    hashed.set(cacheKey, name);
  }
  return name;
}

/** The (quoted) SQL table of a document table. */
export function pgTable(table: string): string {
  const natural = `t_${table}`;
  return `"${natural.length <= MAX_BYTES ? natural : shortened('tx', table, table)}"`;
}

/** The (quoted) key column of an index. */
export function pgKeyColumn(index: string): string {
  const natural = `k_${index}`;
  return `"${natural.length <= MAX_BYTES ? natural : shortened('kx', index, index)}"`;
}

/** The (quoted) SQL index over an index's key column. */
export function pgIndexName(table: string, index: string): string {
  const natural = `i_${table}__${index}`;
  if (natural.length <= MAX_BYTES && !table.includes('__')) return `"${natural}"`;
  return `"${shortened('ix', `${table}__${index}`, JSON.stringify([table, index]))}"`;
}
