import { type CommandLog, run } from '../lib/processes.js';

export interface WrkResult {
  readonly requestsPerSecond: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly avgMs: number;
  readonly requests: number;
  readonly errors: number;
}

export interface WrkSettings {
  readonly threads: number;
  readonly connections: number;
  readonly seconds: number;
}

export function wrkArgs(settings: WrkSettings, seconds: number, url: string, token: string): string[] {
  return [
    `-t${settings.threads}`,
    `-c${settings.connections}`,
    `-d${seconds}s`,
    '--latency',
    '--timeout',
    '5s',
    '-H',
    `Authorization: Bearer ${token}`,
    url,
  ];
}

/** Runs wrk; any socket error or non-2xx answer makes the run invalid (a 401 is fast, and not what we measure). */
export async function runWrk(
  log: CommandLog,
  settings: WrkSettings,
  url: string,
  token: string,
  seconds = settings.seconds,
) {
  const { stdout } = await run(log, 'wrk', wrkArgs(settings, seconds, url, token));
  return parseWrk(stdout);
}

export function parseWrk(output: string): WrkResult {
  const duration = (pattern: RegExp): number => {
    const match = pattern.exec(output);
    if (!match) throw new Error(`unexpected wrk output:\n${output}`);
    const value = Number(match[1]);
    const unit = match[2];
    return unit === 'us' ? value / 1000 : unit === 's' ? value * 1000 : unit === 'm' ? value * 60_000 : value;
  };
  const nonOk = Number(/Non-2xx or 3xx responses:\s*(\d+)/.exec(output)?.[1] ?? 0);
  const socket = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(output);
  const socketErrors = socket ? socket.slice(1).reduce((sum, n) => sum + Number(n), 0) : 0;
  return {
    requestsPerSecond: Number(/Requests\/sec:\s*([\d.]+)/.exec(output)?.[1] ?? Number.NaN),
    p50Ms: duration(/^\s*50%\s+([\d.]+)(us|ms|s|m)\b/m),
    p99Ms: duration(/^\s*99%\s+([\d.]+)(us|ms|s|m)\b/m),
    avgMs: duration(/^\s*Latency\s+([\d.]+)(us|ms|s|m)\b/m),
    requests: Number(/(\d+) requests in/.exec(output)?.[1] ?? 0),
    errors: nonOk + socketErrors,
  };
}
