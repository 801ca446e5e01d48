import type { ServerResponse } from 'node:http';
import { CREATION_INDEX, type KeyRange, type Store } from '../database/store.js';
import { encodeKey, prefixUpperBound } from '../database/keys.js';
import { tableNumberOf } from '../database/ids.js';
import { jsonToConvex, type JSONValue, type Value } from '../values/value.js';
import type { StorageService } from '../storage/storage-service.js';
import { GatewayError } from '../http/errors.js';

// The Data and Files views: tables with their document counts, pages of a
// table in creation order or by an index with equality on its leading
// fields, one document, deletion; stored files with their metadata.
// Reads go through the store's own snapshots; a delete is one transaction.

const PAGE = 50;
/** Counting stops here: the view says "at least". */
const COUNT_LIMIT = 100_000;
const STORAGE_TABLE = '_storage';

export interface TableRow {
  name: string;
  count: number;
  countIsLowerBound: boolean;
  indexes: { name: string; fields: string[] }[];
}

/** Tables are numbered from 1 as they are created; a run of unused numbers ends the list. */
export async function tables(store: Store): Promise<TableRow[]> {
  const names: string[] = [];
  let misses = 0;
  for (let number = 1; misses < 32 && number < 10_000; number++) {
    const name = await store.tableName(number);
    if (name === null) misses++;
    else {
      misses = 0;
      // System tables (_storage, the deployment's own) are not the user's data.
      if (!name.startsWith('_')) names.push(name);
    }
  }
  const rows: TableRow[] = [];
  for (const name of names) {
    const { count, more } = await countDocuments(store, name);
    rows.push({ name, count, countIsLowerBound: more, indexes: (store.indexesOf(name) ?? []).map((index) => ({ name: index.name, fields: [...index.fields] })) });
  }
  return rows;
}

async function countDocuments(store: Store, table: string): Promise<{ count: number; more: boolean }> {
  return store.read(async (tx) => {
    let count = 0;
    let lower: Buffer | null = null;
    for (;;) {
      const batch = await tx.scan({ table, index: CREATION_INDEX, range: { lower, lowerInclusive: false, upper: null, upperInclusive: false }, order: 'asc', limit: 1000 });
      count += batch.length;
      if (batch.length < 1000) return { count, more: false };
      if (count >= COUNT_LIMIT) return { count, more: true };
      lower = batch[batch.length - 1]!.key;
    }
  });
}

export interface DocumentPage {
  documents: Record<string, unknown>[];
  /** Pass back for the next page; null at the end. */
  cursor: string | null;
}

/** A page of `table`, by creation time or by `index` with `equal` on its first fields. */
export async function documents(store: Store, table: string, index: string | null, equal: JSONValue[], cursor: string | null): Promise<DocumentPage> {
  const spec = index === null || index === CREATION_INDEX ? null : (store.indexesOf(table) ?? []).find((candidate) => candidate.name === index);
  if (index !== null && index !== CREATION_INDEX && !spec) throw new GatewayError('BadRequest', `Table ${table} has no index ${index}`);
  if (spec && equal.length > spec.fields.length) throw new GatewayError('BadRequest', `Index ${index} has ${spec.fields.length} fields; got ${equal.length} values`);
  let range: KeyRange = { lower: null, lowerInclusive: false, upper: null, upperInclusive: false };
  if (spec && equal.length > 0) {
    const prefix = encodeKey(equal.map((value) => jsonToConvex(value)) as Value[]);
    range = { lower: prefix, lowerInclusive: true, upper: prefixUpperBound(prefix), upperInclusive: false };
  }
  if (cursor !== null) range = { ...range, lower: Buffer.from(cursor, 'base64url'), lowerInclusive: false };
  const found = await store.read((tx) => tx.scan({ table, index: spec ? spec.name : CREATION_INDEX, range, order: 'asc', limit: PAGE + 1 }));
  const page = found.slice(0, PAGE);
  return {
    documents: page.map((doc) => ({ _id: doc.id, _creationTime: doc.creationTime, ...(JSON.parse(doc.json) as Record<string, unknown>) })),
    cursor: found.length > PAGE ? page[page.length - 1]!.key.toString('base64url') : null,
  };
}

export async function document(store: Store, id: string): Promise<Record<string, unknown> | null> {
  const number = tableNumberOf(id);
  const table = number === null ? null : await store.tableName(number);
  if (table === null) return null;
  const doc = await store.read((tx) => tx.get(table, id));
  return doc ? { _table: table, _id: doc.id, _creationTime: doc.creationTime, ...(JSON.parse(doc.json) as Record<string, unknown>) } : null;
}

export async function deleteDocument(store: Store, id: string): Promise<boolean> {
  const number = tableNumberOf(id);
  const table = number === null ? null : await store.tableName(number);
  if (table === null || table === STORAGE_TABLE) return false;
  return store.write((tx) => tx.delete(table, id), { timeoutMs: 30_000 });
}

export interface FileRow {
  id: string;
  size: number;
  contentType: string | null;
  sha256: string;
  created: number;
}

export async function files(store: Store, cursor: string | null): Promise<{ files: FileRow[]; cursor: string | null }> {
  const range: KeyRange = { lower: cursor === null ? null : Buffer.from(cursor, 'base64url'), lowerInclusive: false, upper: null, upperInclusive: false };
  const found = await store.read((tx) => tx.scan({ table: STORAGE_TABLE, index: CREATION_INDEX, range, order: 'asc', limit: PAGE + 1 }));
  const page = found.slice(0, PAGE);
  return {
    files: page.map((doc) => {
      const fields = jsonToConvex(JSON.parse(doc.json) as JSONValue) as { sha256: string; size: number; contentType: string | null };
      return { id: doc.id, size: fields.size, contentType: fields.contentType, sha256: Buffer.from(fields.sha256, 'base64').toString('hex'), created: doc.creationTime };
    }),
    cursor: found.length > PAGE ? page[page.length - 1]!.key.toString('base64url') : null,
  };
}

/** Sends a stored file as a download (never rendered inline: it is the user's content). */
export async function downloadFile(storage: StorageService, id: string, res: ServerResponse, headers: string[]): Promise<number> {
  const opened = await storage.open(id);
  if (!opened) throw new GatewayError('FileNotFound');
  res.writeHead(200, [
    ...headers,
    'content-type', 'application/octet-stream',
    'content-length', String(opened.file.size),
    'content-disposition', `attachment; filename="${id}"`,
  ]);
  opened.stream.pipe(res);
  await new Promise<void>((resolve) => res.once('close', resolve));
  return 200;
}
