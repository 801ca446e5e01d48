// What a committed transaction changed, as the query cache needs it: each
// document written or deleted, and for a written one its new key in every
// index the writer knew. Announced after the commit (to this process at
// once, to other instances with the commit itself) by a CommitFeed.

export interface DocumentChange {
  table: string;
  id: string;
  /** Index name → the document's new key (latin1, see ReadSet); null for a deletion. */
  keys: Map<string, string> | null;
}

export class WriteSet {
  readonly changes: DocumentChange[] = [];
  /** A table was created: reads of the catalog may now answer otherwise. */
  catalog = false;

  written(table: string, id: string, keys: Map<string, Buffer>): void {
    const latin1 = new Map<string, string>();
    for (const [index, key] of keys) latin1.set(index, key.toString('latin1'));
    this.changes.push({ table, id, keys: latin1 });
  }

  deleted(table: string, id: string): void {
    this.changes.push({ table, id, keys: null });
  }

  get empty(): boolean {
    return this.changes.length === 0 && !this.catalog;
  }
}

/** A commit's changes, or `everything` when they are not known (another process wrote, a schema changed). */
export type Committed = WriteSet | 'everything';

/** Who hears about commits: the query caches of this process. */
export class CommitFeed {
  private readonly listeners = new Set<(committed: Committed) => void>();

  subscribe(listener: (committed: Committed) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  publish(committed: Committed): void {
    if (committed !== 'everything' && committed.empty) return;
    for (const listener of this.listeners) listener(committed);
  }
}
