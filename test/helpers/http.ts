import http from 'node:http';
import net from 'node:net';

// Requests `fetch` cannot make: exact bytes on a socket (chunked bodies,
// malformed headers, unknown methods), with the raw answer back.

export interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
  raw: string;
}

/** Sends `request` as is and reads until the server closes or `timeoutMs`. */
export function rawRequest(port: number, request: string | Buffer, timeoutMs = 5000): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    let raw = '';
    const timer = setTimeout(() => {
      socket.destroy();
      raw ? resolve(parse(raw)) : reject(new Error('no answer'));
    }, timeoutMs);
    socket.setEncoding('latin1');
    socket.on('data', (chunk) => {
      raw += chunk;
      // One complete response is enough.
      const parsed = tryComplete(raw);
      if (parsed) {
        clearTimeout(timer);
        socket.destroy();
        resolve(parsed);
      }
    });
    socket.on('error', (error) => {
      clearTimeout(timer);
      raw ? resolve(parse(raw)) : reject(error);
    });
    socket.on('close', () => {
      clearTimeout(timer);
      if (raw) resolve(parse(raw));
      else reject(new Error('closed without an answer'));
    });
    socket.write(request);
  });
}

function tryComplete(raw: string): RawResponse | null {
  const end = raw.indexOf('\r\n\r\n');
  if (end === -1) return null;
  const response = parse(raw);
  const length = response.headers['content-length'];
  if (length !== undefined && Buffer.byteLength(response.body, 'latin1') >= Number(length)) return response;
  if (response.headers['transfer-encoding'] === 'chunked' && raw.endsWith('0\r\n\r\n')) return response;
  if (response.status === 204 || response.status === 304) return response;
  return null;
}

function parse(raw: string): RawResponse {
  const end = raw.indexOf('\r\n\r\n');
  const head = end === -1 ? raw : raw.slice(0, end);
  const [statusLine, ...lines] = head.split('\r\n');
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(':');
    if (colon > 0) headers[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).trim();
  }
  return { status: Number(statusLine?.split(' ')[1]), headers, body: end === -1 ? '' : raw.slice(end + 4), raw };
}

/** A port nothing listens on right now (briefly bound, then released). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

export interface TextAnswer {
  status: number;
  headers: http.IncomingHttpHeaders;
  text: string;
}

/** One request through node:http, the answer as text; `body` as a list is sent chunked, one write per piece. */
export function textRequest(url: string, options: http.RequestOptions = {}, body?: string | string[]): Promise<TextAnswer> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, options, (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (chunk) => (text += chunk));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, text }));
      res.on('error', reject);
    });
    req.on('error', reject);
    if (Array.isArray(body)) {
      for (const piece of body) req.write(piece);
      req.end();
    } else req.end(body);
  });
}
