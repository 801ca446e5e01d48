// The references for the TLS scenarios: a bare node:https server and a bare
// node:http2 secure server (HTTP/1.1 allowed, as Portico's listener does)
// answering GET hello with nothing in between.
//   node bench/servers/tls-bare.mjs https|http2 PORT CERT KEY
import { readFileSync } from 'node:fs';
import http2 from 'node:http2';
import https from 'node:https';

const [kind, port, cert, key] = process.argv.slice(2);
const options = { cert: readFileSync(cert), key: readFileSync(key), minVersion: 'TLSv1.2' };
const hello = (_req, res) => {
  res.writeHead(200, { 'content-type': 'text/plain' });
  res.end('hello');
};
const server = kind === 'http2' ? http2.createSecureServer({ ...options, allowHTTP1: true }, hello) : https.createServer(options, hello);
server.listen(Number(port), '127.0.0.1', () => console.error(`listening on https://127.0.0.1:${port}`));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
