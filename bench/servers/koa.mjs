// "Bare Koa" as issue 6 measures it: koa + @koa/router answering hello,
// with nothing else (no CORS, no logging, no body parsing).
import Koa from 'koa';
import Router from '@koa/router';

const port = Number(process.argv[2]);
const app = new Koa();
const router = new Router();
router.get('/hello', (ctx) => {
  ctx.body = 'hello';
});
app.use(router.routes());
app.listen(port, '127.0.0.1', () => process.stdout.write(`listening on http://127.0.0.1:${port}\n`));
