#!/usr/bin/env node
import { main } from './main.js';

// The only place that exits the process.
const io = {
  out: (text: string) => void process.stdout.write(text),
  err: (text: string) => void process.stderr.write(text),
  cwd: process.cwd(),
  env: process.env,
};

main(process.argv.slice(2), io).then(
  (code) => {
    // Let stdout drain (piped output is asynchronous) before exiting.
    process.stdout.write('', () => process.exit(code));
  },
  (error) => {
    process.stderr.write(`portico: internal error: ${error?.stack ?? error}\n`);
    process.exit(70);
  },
);
