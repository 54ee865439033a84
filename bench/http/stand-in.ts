// The OpenAI-compatible stand-in as its own process (so the TTFB client never shares its event loop).
// Usage: node --import tsx bench/http/stand-in.ts PORT API_KEY STREAM_DELAY_MS
import { OpenAiStandIn } from '../../src/standins/openai-stand-in.js';

const [port = '0', apiKey = 'standin-key', delay = '0'] = process.argv.slice(2);
const standIn = new OpenAiStandIn({ apiKey, port: Number(port), streamDelayMs: Number(delay) });
process.stdout.write(`${await standIn.start()}\n`);
process.once('SIGTERM', () => void standIn.stop().then(() => process.exit(0)));
