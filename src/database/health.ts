// Whether the databases this process serves from are reachable, for
// /_portico/health. A store whose server can go away (PostgreSQL) registers
// here while it is open; SQLite, in this process, has nothing to report.

export interface DatabaseHealth {
  status: 'ok' | 'unavailable';
  /** Why it is unavailable. */
  error?: string;
}

export interface HealthSource {
  health(): Promise<DatabaseHealth>;
}

const sources = new Set<HealthSource>();

export function registerHealthSource(source: HealthSource): () => void {
  sources.add(source);
  return () => sources.delete(source);
}

/** The first unavailable database's answer, or ok. */
export async function databaseHealth(): Promise<DatabaseHealth> {
  const answers = await Promise.all([...sources].map((source) => source.health()));
  return answers.find((answer) => answer.status !== 'ok') ?? { status: 'ok' };
}
