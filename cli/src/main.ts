import { run } from './program.ts';

// `datamancy … | head`: a closed pipe ends the output, not with a stack trace
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  throw err;
});

const code = await run(process.argv);
if (code !== 0) process.exitCode = code;
