// A second reference for the proxy scenario: the same bare reverse proxy as
// undici-proxy.mjs, on undici's lowest-level API, `dispatch` with a handler
// that writes the upstream's head and chunks straight into the response (no
// Readable for the answer, no header object, no pipe), which is how
// Portico's proxy routes relay. undici-proxy.mjs, on `request()`, is what a
// reverse proxy on undici usually looks like; this one is the floor.
import http from 'node:http';
import { Pool } from 'undici';

const port = Number(process.argv[2]);
const upstream = process.argv[3];
const PREFIX = '/proxy';
const pool = new Pool(upstream, { keepAliveTimeout: 4_000 });
const HOP = new Set(['connection', 'proxy-connection', 'keep-alive', 'te', 'trailer', 'transfer-encoding', 'upgrade', 'proxy-authenticate', 'proxy-authorization', 'host', 'expect', 'x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-host', 'forwarded']);

class Relay {
  constructor(res) {
    this.res = res;
    this.abort = null;
    this.resume = null;
    this.gone = false;
  }
  onConnect(abort) {
    if (this.gone) return abort(new Error('client gone'));
    this.abort = abort;
  }
  onHeaders(status, raw, resume) {
    if (status < 200) return true;
    const out = [];
    for (let i = 0; i < raw.length; i += 2) {
      const name = raw[i].toString('latin1');
      if (!HOP.has(name.toLowerCase())) out.push(name, raw[i + 1].toString('latin1'));
    }
    this.res.writeHead(status, out);
    this.resume = resume;
    return true;
  }
  onData(chunk) {
    if (this.res.write(chunk)) return true;
    this.res.once('drain', () => this.resume());
    return false;
  }
  onComplete() {
    this.res.end();
  }
  onError() {
    if (this.res.headersSent) return this.res.destroy();
    this.res.writeHead(502);
    this.res.end();
  }
}

http
  .createServer((req, res) => {
    const headers = [];
    const raw = req.rawHeaders;
    for (let i = 0; i < raw.length; i += 2) if (!HOP.has(raw[i].toLowerCase())) headers.push(raw[i], raw[i + 1]);
    const peer = req.socket.remoteAddress;
    const host = req.headers.host;
    headers.push('x-forwarded-for', peer, 'x-forwarded-proto', 'http', 'x-forwarded-host', host, 'forwarded', `for=${peer};proto=http;host="${host}"`);
    const relay = new Relay(res);
    // The client hanging up aborts the upstream request.
    res.once('close', () => {
      if (res.writableEnded) return;
      relay.gone = true;
      relay.abort?.(new Error('client gone'));
    });
    const hasBody = req.headers['content-length'] !== undefined || req.headers['transfer-encoding'] !== undefined;
    pool.dispatch({ path: req.url.slice(PREFIX.length), method: req.method, headers, body: hasBody ? req : null }, relay);
  })
  .listen(port, '127.0.0.1', () => process.stdout.write(`listening on http://127.0.0.1:${port}\n`));
