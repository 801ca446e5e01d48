import type { IndexSpec } from '../store.js';

// What this process knows of the committed catalog (_portico_tables,
// _portico_indexes): table numbers, which never change once committed, and
// index lists, dropped whenever a schema change is announced. Filled by
// transactions from their own snapshots (postgres-tx.ts) and by the store.

export class PostgresCatalog {
  readonly numbers = new Map<string, number>();
  readonly names = new Map<number, string>();
  readonly indexCache = new Map<string, IndexSpec[]>();
  /** Bumped by every schema change: a snapshot older than it must not fill the index cache. */
  indexGeneration = 0;

  remember(table: string, number: number): void {
    this.numbers.set(table, number);
    this.names.set(number, table);
  }

  forgetIndexes(): void {
    this.indexGeneration += 1;
    this.indexCache.clear();
  }
}
