// A real upstream service for the proxy tests, run as its own process:
// `node upstream-server.mjs [port] [name]` prints `listening <port>` once ready.
//   /echo...        JSON: who answered, method, url, headers, body bytes
//   /bytes/<n>      n bytes of 'x', streamed in 64 KiB chunks
//   /count          reads the body and answers with its length
//   /slow/<ms>      answers after ms milliseconds
//   /hold           sends headers and some bytes, then never finishes
//   /cors           answers with its own Access-Control-* headers
//   /hop            answers with hop-by-hop headers
//   /trailers       a chunked answer with two Set-Cookie fields and a trailer field after the body
//   /trailer-length an answer with a Content-Length that still announces a Trailer field
//   /events         what happened to earlier requests (closed early, finished)
//   /mirror...      answers the request body as it arrived, with the framing
//                   it came with (x-seen-content-length, x-seen-transfer-encoding)
//   /requests       how many requests arrived (other than /events and /requests),
//                   WebSocket handshakes included
import { createHash } from 'node:crypto';
import http from 'node:http';

const port = Number(process.argv[2] ?? 0);
const name = process.argv[3] ?? 'upstream';
const events = [];
let requests = 0;

const server = http.createServer((req, res) => {
  const url = new URL(req.url, 'http://upstream');
  const record = (what) => events.push({ what, url: req.url, id: req.headers['x-request-id'] });
  res.on('close', () => record(res.writableFinished ? 'finished' : 'closed-early'));
  if (url.pathname === '/requests') return res.end(String(requests));
  if (url.pathname !== '/events') requests += 1;
  if (url.pathname.startsWith('/mirror')) {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const seen = { 'x-seen-url': req.url, 'x-seen-content-length': req.headers['content-length'] ?? 'none', 'x-seen-transfer-encoding': req.headers['transfer-encoding'] ?? 'none' };
      res.writeHead(200, { 'content-type': req.headers['content-type'] ?? 'application/octet-stream', ...seen });
      res.end(Buffer.concat(chunks));
    });
    return;
  }
  if (url.pathname === '/events') {
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify(events.filter((e) => e.url !== '/events')));
    return;
  }
  if (url.pathname.startsWith('/bytes/')) {
    const total = Number(url.pathname.slice(7));
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(total), 'x-upstream': name });
    const chunk = Buffer.alloc(64 * 1024, 'x');
    let sent = 0;
    const pump = () => {
      while (sent < total) {
        const piece = total - sent >= chunk.length ? chunk : chunk.subarray(0, total - sent);
        sent += piece.length;
        if (!res.write(piece)) return res.once('drain', pump);
      }
      res.end();
    };
    pump();
    return;
  }
  if (url.pathname === '/count') {
    let bytes = 0;
    req.on('data', (c) => {
      // Seen before the body is whole: the gateway is streaming it, not holding it.
      if (bytes === 0) record('first-bytes');
      bytes += c.length;
    });
    req.on('end', () => res.end(JSON.stringify({ bytes, name })));
    return;
  }
  if (url.pathname.startsWith('/slow/')) {
    setTimeout(() => res.end(`slow ${name}`), Number(url.pathname.slice(6)));
    return;
  }
  if (url.pathname === '/hold') {
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.write('partial');
    return;
  }
  if (url.pathname.startsWith('/reset-if/')) {
    // Breaks the connection without an answer when this upstream is the one named.
    if (url.pathname.slice(10) === name) return req.socket.destroy();
    res.end(`ok ${name}`);
    return;
  }
  if (url.pathname === '/cors') {
    res.writeHead(200, { 'access-control-allow-origin': '*', 'access-control-allow-credentials': 'true', 'x-upstream': name, vary: 'Accept-Encoding' });
    res.end('cors');
    return;
  }
  if (url.pathname === '/hop') {
    res.writeHead(200, { connection: 'keep-alive, x-hop', 'keep-alive': 'timeout=5', 'x-hop': 'secret', 'proxy-authenticate': 'Basic', 'x-kept': 'yes', 'x-request-id': 'upstream-id' });
    res.end('hop');
    return;
  }
  if (url.pathname === '/trailer-length') {
    // Written raw, on a connection that ends with it: Node would refuse this head, but an upstream may send it.
    req.socket.end(`HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTrailer: x-checksum\r\nContent-Length: 5\r\nConnection: close\r\n\r\n${req.method === 'HEAD' ? '' : 'fixed'}`);
    return;
  }
  if (url.pathname === '/trailers' && req.method === 'HEAD') {
    // The head a GET would get, Trailer included (written raw: Node refuses Trailer on an answer without a body).
    req.socket.end('HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTrailer: x-checksum\r\nSet-Cookie: a=1\r\nSet-Cookie: b=2\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n');
    return;
  }
  if (url.pathname === '/trailers') {
    res.writeHead(200, { 'content-type': 'text/plain', trailer: 'x-checksum', 'set-cookie': ['a=1', 'b=2'] });
    res.write('part one, ');
    res.addTrailers({ 'x-checksum': 'sha256=abc' });
    res.end('part two');
    return;
  }
  let bytes = 0;
  req.on('data', (c) => (bytes += c.length));
  req.on('end', () => {
    const text = JSON.stringify({ name, method: req.method, url: req.url, headers: req.headers, rawHeaders: req.rawHeaders, bytes });
    res.writeHead(200, { 'content-type': 'application/json', 'x-upstream': name });
    res.end(req.method === 'HEAD' ? undefined : text);
  });
});
// WebSocket: the handshake, a first text message saying what arrived, then
// every text frame echoed back (frames under 126 bytes, enough for tests).
server.on('upgrade', (req, socket) => {
  requests += 1;
  if (req.headers.upgrade?.toLowerCase() !== 'websocket') return socket.destroy();
  const accept = createHash('sha1').update(`${req.headers['sec-websocket-key']}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest('base64');
  socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\nX-Upstream: ${name}\r\nX-Request-Id: upstream-id\r\n\r\n`);
  const send = (text) => {
    const payload = Buffer.from(text);
    socket.write(Buffer.concat([Buffer.from([0x81, payload.length]), payload]));
  };
  send(JSON.stringify({ name, url: req.url, id: req.headers['x-request-id'], forwardedFor: req.headers['x-forwarded-for'] }));
  let buffer = Buffer.alloc(0);
  socket.on('data', (chunk) => {
    buffer = Buffer.concat([buffer, chunk]);
    while (buffer.length >= 6) {
      const opcode = buffer[0] & 0x0f;
      const length = buffer[1] & 0x7f;
      if (buffer.length < 6 + length) return;
      const mask = buffer.subarray(2, 6);
      const payload = Buffer.from(buffer.subarray(6, 6 + length).map((byte, i) => byte ^ mask[i % 4]));
      buffer = buffer.subarray(6 + length);
      if (opcode === 0x8) return socket.end(Buffer.from([0x88, 0]));
      if (opcode === 0x1) send(`${name}: ${payload.toString()}`);
    }
  });
  socket.on('close', () => events.push({ what: 'ws-closed', url: req.url, id: req.headers['x-request-id'] }));
  socket.on('error', () => {});
});
server.listen(port, '127.0.0.1', () => process.stdout.write(`listening ${server.address().port}\n`));
