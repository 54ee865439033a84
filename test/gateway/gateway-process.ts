import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:net';

const CLI = new URL('../../bin/gatehouse.js', import.meta.url).pathname;

/** A real `gatehouse serve` process, as a deployment runs it: signals, exit code and the log it wrote. */
export interface GatewayProcess {
  readonly child: ChildProcess;
  /** What it wrote to stderr and stdout (its JSON log), for assertions and failure messages. */
  output(): string;
  /** Resolves when /healthz answers on `adminPort`; rejects if the process exits first. */
  ready(adminPort: number): Promise<void>;
  /** Sends `signal` and resolves with the exit code (null when killed by the signal). */
  stop(signal: NodeJS.Signals): Promise<number | null>;
}

export function serveGateway(configPath: string, env: NodeJS.ProcessEnv = {}): GatewayProcess {
  const child = spawn(process.execPath, [CLI, 'serve', '-c', configPath], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...env },
  });
  let text = '';
  const keep = (chunk: Buffer) => {
    text += chunk.toString('utf8');
    if (text.length > 2_000_000) text = text.slice(-1_000_000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  return {
    child,
    output: () => text,
    async ready(adminPort) {
      for (let i = 0; i < 600; i++) {
        if (child.exitCode !== null) throw new Error(`gateway exited with ${child.exitCode}:\n${text}`);
        try {
          const res = await fetch(`http://127.0.0.1:${adminPort}/healthz`);
          if (res.ok) return;
        } catch {
          // Not listening yet.
        }
        await new Promise((r) => setTimeout(r, 100));
      }
      throw new Error(`gateway did not start:\n${text}`);
    },
    async stop(signal) {
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
      const exited = once(child, 'exit');
      child.kill(signal);
      const [code] = await exited;
      return code as number | null;
    },
  };
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      probe.close(() =>
        typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port')),
      );
    });
  });
}

/** GET/POST on the admin API with a bearer token; the JSON body and status. */
export async function adminCall(
  port: number,
  path: string,
  token: string,
  body?: unknown,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`http://127.0.0.1:${port}${path}`, {
    method: body === undefined ? 'GET' : 'POST',
    headers: {
      authorization: `Bearer ${token}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}
