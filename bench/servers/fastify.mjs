// Fastify, for reference: GET hello and a POST JSON echo (its own JSON body
// parser and serializer), with nothing else (no CORS, no logging).
import Fastify from 'fastify';

const port = Number(process.argv[2]);
const app = Fastify({ logger: false });
app.get('/hello', async () => 'hello');
app.post('/echo', async (request) => request.body);
await app.listen({ port, host: '127.0.0.1' });
process.stdout.write(`listening on http://127.0.0.1:${port}\n`);
