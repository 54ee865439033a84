/**
 * The quickstart's OpenAI-compatible stand-in upstream as a process of its own, for deploy/compose/ (no real model
 * can run there). Compiled to dist/standins/openai.js by scripts/build.mjs; run with `node dist/standins/openai.js`.
 * Environment: STAND_IN_HOST (default 0.0.0.0: it runs alone in its container), STAND_IN_PORT (8081),
 * STAND_IN_API_KEY (the key it insists on, which the gateway injects; required).
 */
import { OpenAiStandIn } from '../../src/standins/openai-stand-in.js';

const apiKey = process.env.STAND_IN_API_KEY;
if (!apiKey) {
  process.stderr.write('stand-in: STAND_IN_API_KEY is not set (the key the gateway injects)\n');
  process.exit(2);
}
const port = Number(process.env.STAND_IN_PORT ?? 8081);
if (!Number.isInteger(port) || port < 0 || port > 65_535) {
  process.stderr.write(`stand-in: STAND_IN_PORT is not a port: ${process.env.STAND_IN_PORT}\n`);
  process.exit(2);
}
const standIn = new OpenAiStandIn({ apiKey, host: process.env.STAND_IN_HOST ?? '0.0.0.0', port });
const url = await standIn.start();
process.stdout.write(`stand-in: OpenAI-compatible upstream on ${url}\n`);
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.once(signal, () => void standIn.stop().then(() => process.exit(0)));
}
