import cluster, { type Worker } from 'node:cluster';

// With `--workers N`, a request reaches one worker, but metrics and the
// dashboard's log must cover all of them. The worker that was asked sends
// the question to the primary, the primary asks every worker (itself
// included) over the cluster's IPC channel, and hands the answers back.
// Node's own channel, no protocol of ours between gateways: this only ever
// spans the processes of one `portico serve`.

type Answer = (arg: unknown) => unknown;

const ASK = 'portico:gather';
const QUESTION = 'portico:gather-question';
const PART = 'portico:gather-part';
const ANSWERS = 'portico:gather-answers';
const TIMEOUT_MS = 3_000;

const answerers = new Map<string, Answer>();
const waiting = new Map<number, (parts: unknown[]) => void>();
let nextId = 0;
let listening = false;

/** Registers what this process answers for `topic`. */
export function answerGather(topic: string, answer: Answer): void {
  answerers.set(topic, answer);
  if (cluster.isWorker) listenInWorker();
}

/** Every process's answer for `topic` (this process's alone when it is not a worker). */
export async function gather<T>(topic: string, arg: unknown = null): Promise<T[]> {
  const answer = answerers.get(topic);
  if (!cluster.isWorker || !process.send) return answer ? [(await answer(arg)) as T] : [];
  listenInWorker();
  const id = nextId++;
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      waiting.delete(id);
      // The primary did not answer (it is not a portico primary): this worker's own.
      void Promise.resolve(answer?.(arg)).then((own) => resolve(own === undefined ? [] : [own as T]));
    }, TIMEOUT_MS);
    waiting.set(id, (parts) => {
      clearTimeout(timer);
      resolve(parts as T[]);
    });
    process.send!({ type: ASK, id, topic, arg });
  });
}

function listenInWorker(): void {
  if (listening) return;
  listening = true;
  process.on('message', (message: { type?: string; id?: number; topic?: string; arg?: unknown; parts?: unknown[] }) => {
    if (message?.type === QUESTION) {
      const answer = answerers.get(message.topic!);
      Promise.resolve(answer ? answer(message.arg) : undefined).then(
        (part) => process.send?.({ type: PART, id: message.id, part: part ?? null }),
        () => process.send?.({ type: PART, id: message.id, part: null }),
      );
    } else if (message?.type === ANSWERS) {
      waiting.get(message.id!)?.(message.parts!);
      waiting.delete(message.id!);
    }
  });
}

/** In the cluster primary: relays questions from one worker to all of them. */
export function relayGathers(): void {
  let nextQuestion = 0;
  const open = new Map<number, { parts: unknown[]; pending: Set<Worker>; done: () => void }>();
  cluster.on('message', (worker: Worker, message: { type?: string; id?: number; topic?: string; arg?: unknown; part?: unknown }) => {
    if (message?.type === ASK) {
      const question = nextQuestion++;
      const workers = Object.values(cluster.workers ?? {}).filter((w): w is Worker => w !== undefined && w.isConnected());
      const entry = {
        parts: [] as unknown[],
        pending: new Set(workers),
        done: () => {
          clearTimeout(timer);
          open.delete(question);
          if (worker.isConnected()) worker.send({ type: ANSWERS, id: message.id, parts: entry.parts });
        },
      };
      // A worker that hangs does not hold the others' answers back for long.
      const timer = setTimeout(entry.done, TIMEOUT_MS - 500);
      open.set(question, entry);
      for (const w of workers) w.send({ type: QUESTION, id: question, topic: message.topic, arg: message.arg });
      if (workers.length === 0) entry.done();
    } else if (message?.type === PART) {
      const entry = open.get(message.id!);
      if (!entry || !entry.pending.delete(worker)) return;
      if (message.part !== null) entry.parts.push(message.part);
      if (entry.pending.size === 0) entry.done();
    }
  });
}
