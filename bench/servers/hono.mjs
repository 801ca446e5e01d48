// Hono on @hono/node-server, for reference: GET hello and a POST JSON echo,
// with nothing else (no CORS, no logging).
import { serve } from '@hono/node-server';
import { Hono } from 'hono';

const port = Number(process.argv[2]);
const app = new Hono();
app.get('/hello', (c) => c.text('hello'));
app.post('/echo', async (c) => c.json(await c.req.json()));
serve({ fetch: app.fetch, port, hostname: '127.0.0.1' }, () => process.stdout.write(`listening on http://127.0.0.1:${port}\n`));
