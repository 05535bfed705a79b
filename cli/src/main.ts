import { run } from './program.ts';

const code = await run(process.argv);
if (code !== 0) process.exitCode = code;
