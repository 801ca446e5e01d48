import type Database from 'better-sqlite3';

// The prepared statements of one SQLite connection, by SQL text: prepared on
// first use and reused by every later transaction on that connection.

export class StatementCache {
  private readonly statements = new Map<string, Database.Statement>();
  constructor(readonly db: Database.Database) {}
  get(sql: string): Database.Statement {
    let statement = this.statements.get(sql);
    if (!statement) this.statements.set(sql, (statement = this.db.prepare(sql)));
    return statement;
  }
  /** Statements name tables and columns; a schema change invalidates them. */
  clear(): void {
    this.statements.clear();
  }
}
