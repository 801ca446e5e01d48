// A full garbage collection in a server process, from outside, through the
// V8 inspector (the process runs with --inspect=127.0.0.1:PORT): what the
// leak check uses to tell memory still held from garbage not yet collected.
import { WebSocket } from 'undici';

/** Runs a full GC in the process whose inspector listens on `port`; returns the V8 heap in use after it, in bytes. */
export async function collectGarbage(port) {
  const [target] = await (await fetch(`http://127.0.0.1:${port}/json/list`)).json();
  const socket = new WebSocket(target.webSocketDebuggerUrl);
  await new Promise((resolve, reject) => {
    socket.onopen = resolve;
    socket.onerror = () => reject(new Error(`inspector on port ${port} refused the connection`));
  });
  const pending = new Map();
  socket.onmessage = (event) => {
    const message = JSON.parse(event.data);
    pending.get(message.id)?.(message);
  };
  let last = 0;
  const call = (method) =>
    new Promise((resolve, reject) => {
      const id = ++last;
      pending.set(id, (message) => (message.error ? reject(new Error(`${method}: ${message.error.message}`)) : resolve(message.result)));
      socket.send(JSON.stringify({ id, method }));
    });
  try {
    await call('HeapProfiler.collectGarbage');
    return (await call('Runtime.getHeapUsage')).usedSize;
  } finally {
    socket.close();
  }
}
