// The reference for the proxy scenario: a bare node:http reverse proxy on
// undici doing the forwarding work a proxy route does (strip the prefix,
// drop hop-by-hop headers both ways, set X-Forwarded-For/-Proto/-Host and
// Forwarded, one keep-alive pool, stream both bodies, abort the upstream
// request when the client hangs up), with the same stream plumbing as
// Portico's (the answer piped by hand, a one-listener abort signal, no
// stream.pipeline), and nothing else: no routing table, no CORS, no log.
import http from 'node:http';
import { Pool } from 'undici';

const port = Number(process.argv[2]);
const upstream = process.argv[3];
const PREFIX = '/proxy';
const pool = new Pool(upstream, { keepAliveTimeout: 4_000 });
const HOP = new Set(['connection', 'proxy-connection', 'keep-alive', 'te', 'trailer', 'transfer-encoding', 'upgrade', 'proxy-authenticate', 'proxy-authorization', 'host', 'expect', 'x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-host', 'forwarded']);

/** What undici watches to abort: fired when the client leaves early. */
class ClientGone {
  aborted = false;
  listener = null;
  on(_event, listener) {
    this.listener = listener;
    return this;
  }
  once(event, listener) {
    return this.on(event, listener);
  }
  removeListener() {
    this.listener = null;
    return this;
  }
  fire() {
    this.aborted = true;
    this.listener?.();
  }
}

http
  .createServer(async (req, res) => {
    const headers = [];
    const raw = req.rawHeaders;
    for (let i = 0; i < raw.length; i += 2) if (!HOP.has(raw[i].toLowerCase())) headers.push(raw[i], raw[i + 1]);
    const peer = req.socket.remoteAddress;
    const host = req.headers.host;
    headers.push('x-forwarded-for', peer, 'x-forwarded-proto', 'http', 'x-forwarded-host', host, 'forwarded', `for=${peer};proto=http;host="${host}"`);
    const gone = new ClientGone();
    res.once('close', () => {
      if (!res.writableEnded) gone.fire();
    });
    const hasBody = req.headers['content-length'] !== undefined || req.headers['transfer-encoding'] !== undefined;
    let answer;
    try {
      answer = await pool.request({ path: req.url.slice(PREFIX.length), method: req.method, headers, body: hasBody ? req : null, signal: gone });
    } catch {
      if (!res.headersSent) {
        res.writeHead(502);
        res.end();
      }
      return;
    }
    const out = [];
    for (const name in answer.headers) {
      if (HOP.has(name)) continue;
      const value = answer.headers[name];
      if (Array.isArray(value)) for (const one of value) out.push(name, one);
      else out.push(name, value);
    }
    res.writeHead(answer.statusCode, out);
    answer.body.on('error', () => res.destroy());
    res.once('close', () => {
      if (!res.writableFinished) answer.body.destroy();
    });
    answer.body.pipe(res);
  })
  .listen(port, '127.0.0.1', () => process.stdout.write(`listening on http://127.0.0.1:${port}\n`));
