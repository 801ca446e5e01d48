import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

// A function tier that misbehaves on demand: a node:http server standing in
// for the far side of `backend.kind: remote`. Each mode is one way a tier
// fails: it stalls, dies halfway through its answer, answers something that
// is not a function result, or behaves (so recovery can be seen).

export type Mode =
  /** Answers like a healthy Portico: `{"status":"success","value":"ok"}`. */
  | 'healthy'
  /** Reads the request and never answers. */
  | 'stall'
  /** Sends the head and half of a JSON body, then destroys the socket. */
  | 'die-mid-body'
  /** Destroys the socket as soon as the request arrives: no head at all. */
  | 'die-before-head'
  /** Sends the head and part of the body, then stalls. */
  | 'stall-mid-body'
  /** 200 with a body that is not JSON. */
  | 'garbage'
  /** 200 with a result holding a malformed `$integer`. */
  | 'bad-value'
  /** 500 with an HTML error page, as a proxy in front of a tier would. */
  | 'proxy-500'
  /** 503 {code, message}, as a tier whose database is down answers. */
  | 'unavailable'
  /** A well-formed result holding a 40 MiB string, its length declared up front. */
  | 'huge';

export interface StandIn {
  url: string;
  port: number;
  mode: Mode;
  /** Requests received so far. */
  received: number;
  close(): Promise<void>;
}

export async function startStandIn(mode: Mode, port = 0): Promise<StandIn> {
  const sockets = new Set<Socket>();
  const state = { mode, received: 0 };
  const server = http.createServer((req, res) => {
    state.received += 1;
    req.resume();
    req.on('end', () => answer(state.mode, res));
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  const actual = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${actual}`,
    port: actual,
    get mode() {
      return state.mode;
    },
    set mode(next: Mode) {
      state.mode = next;
    },
    get received() {
      return state.received;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

const RESULT = JSON.stringify({ status: 'success', value: 'ok from the stand-in' });

function answer(mode: Mode, res: http.ServerResponse): void {
  const json = (status: number, body: string) => {
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  };
  switch (mode) {
    case 'healthy':
      return json(200, RESULT);
    case 'stall':
      return;
    case 'die-mid-body':
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(RESULT) });
      res.write(RESULT.slice(0, 20), () => setTimeout(() => res.socket?.destroy(), 20));
      return;
    case 'die-before-head':
      res.socket?.destroy();
      return;
    case 'stall-mid-body':
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(RESULT) });
      res.write(RESULT.slice(0, 20));
      return;
    case 'garbage':
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end('this is not a function result');
      return;
    case 'bad-value':
      return json(200, JSON.stringify({ status: 'success', value: { $integer: 'not base64!' } }));
    case 'proxy-500':
      res.writeHead(500, { 'content-type': 'text/html' });
      res.end('<html><body>Internal Server Error</body></html>');
      return;
    case 'unavailable':
      return json(503, JSON.stringify({ code: 'DatabaseUnavailable', message: 'The database is unavailable; try again shortly' }));
    case 'huge': {
      const open = '{"status":"success","value":"';
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': open.length + 40 * 1024 * 1024 + 2 });
      res.write(open);
      const mib = Buffer.alloc(1024 * 1024, 'x');
      let sent = 0;
      const pump = () => {
        while (sent < 40 && !res.destroyed) {
          sent += 1;
          if (!res.write(mib)) return void res.once('drain', pump);
        }
        if (!res.destroyed) res.end('"}');
      };
      return pump();
    }
  }
}
