// One gateway of the recording benchmark in a process of its own (bench.ts starts four): as a deployment runs it,
// with JIT feedback of its own. In one process, the four configurations' code paths (spool or not, overlapped reads
// or strict, recording off) shared the same functions' feedback, which a single deployment never mixes.
//
// Usage: node --import tsx bench/recording/gateway-process.ts <config> <recording>
// With recording `off`: the BENCH-ONLY SWITCH (see bench.ts), AuditRecorder.record replaced by a resolved promise.
// Prints "ready" once the listener is up; stops on SIGTERM.
import { readFileSync } from 'node:fs';
import { parseConfig } from '../../src/config/load.js';
import { Gateway } from '../../src/gateway/gateway.js';
import { createLogger } from '../../src/gateway/logger.js';

const [configPath, recording] = process.argv.slice(2);
if (configPath === undefined || recording === undefined) {
  process.stderr.write('usage: gateway-process.ts <config> <recording>\n');
  process.exit(2);
}
const loaded = parseConfig(readFileSync(configPath, 'utf8'), configPath, process.env);
const gateway = await Gateway.start(loaded, { logger: createLogger('warn') });
if (recording === 'off') gateway.services.recorder.record = () => Promise.resolve();
process.stdout.write('ready\n');
process.once('SIGTERM', () => {
  void gateway.stop().finally(() => process.exit(0));
});
