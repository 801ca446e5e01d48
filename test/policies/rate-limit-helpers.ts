import http from 'node:http';

// Requests for the rate limit tests: each on a connection of its own when
// asked (so `--workers` spreads them over the workers), answers as plain data.

export interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

export function get(port: number, path: string, options: { headers?: Record<string, string>; method?: string; body?: string; fresh?: boolean } = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: '127.0.0.1', port, path, method: options.method ?? 'GET', headers: options.headers, agent: options.fresh ? false : undefined },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (body += chunk));
        res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body }));
      },
    );
    req.on('error', reject);
    req.end(options.body);
  });
}

export const HANDLERS = `import { httpAction, query } from 'portico';
let calls = 0;
export const hit = httpAction(async (ctx) => { calls++; return new Response('ok ' + JSON.stringify(ctx.params)); });
export const calls_ = httpAction(async () => new Response(String(calls)));
export { calls_ as calls };
export const hello = query({ handler: async () => 'hello' });
`;
