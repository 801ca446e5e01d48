// A job committed in this process may be due before the runner's next look:
// the code that scheduled it says so here, and the runner listens. (Jobs
// scheduled by other instances are found by the runner's polling.)

type Listener = (time: number) => void;
const listeners = new Set<Listener>();

export function onJobScheduled(listener: Listener): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

export function jobScheduled(time: number): void {
  for (const listener of listeners) listener(time);
}
