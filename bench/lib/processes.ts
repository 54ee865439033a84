import { type ChildProcess, type SpawnOptions, spawn } from 'node:child_process';
import { once } from 'node:events';
import { connect, createServer } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

/**
 * Process plumbing for the bench drivers: every command they run is logged (secrets replaced by a placeholder), so
 * the results files can list the exact commands; background servers are stopped by their own pid only.
 */
export class CommandLog {
  readonly commands: string[] = [];
  private readonly secrets = new Map<string, string>();

  /** Shows `value` as `placeholder` (e.g. a token as "$TOKEN") in logged commands. */
  redact(value: string, placeholder: string): void {
    this.secrets.set(value, placeholder);
  }

  note(command: string, args: readonly string[], env: Record<string, string> = {}): string {
    const envText = Object.entries(env).map(([k, v]) => `${k}=${quote(v)}`);
    let line = [...envText, command, ...args.map(quote)].join(' ');
    for (const [secret, placeholder] of this.secrets) line = line.split(secret).join(placeholder);
    if (!this.commands.includes(line)) this.commands.push(line);
    return line;
  }
}

function quote(arg: string): string {
  return /^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`;
}

export interface RunResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs a command to completion and returns its output; throws when it fails unless `allowFailure`. */
export async function run(
  log: CommandLog,
  command: string,
  args: readonly string[],
  options: { env?: Record<string, string>; allowFailure?: boolean; cwd?: string } = {},
): Promise<RunResult> {
  const line = log.note(command, args, options.env);
  const child = spawn(command, args, {
    cwd: options.cwd,
    env: { ...process.env, ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const [code] = (await once(child, 'close')) as [number | null];
  const result = { code: code ?? -1, stdout, stderr };
  if (result.code !== 0 && !options.allowFailure) {
    throw new Error(`command failed (${result.code}): ${line}\n${stderr.slice(-2000)}${stdout.slice(-2000)}`);
  }
  return result;
}

/** A server the driver started; `stop` signals that pid only and waits for it to exit. */
export class Background {
  private exited: Promise<void>;
  private output = '';

  constructor(
    readonly name: string,
    readonly child: ChildProcess,
  ) {
    this.exited = once(child, 'exit').then(() => undefined);
    const keep = (chunk: Buffer) => {
      this.output = (this.output + chunk.toString()).slice(-8000);
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  get log(): string {
    return this.output;
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  async stop(signal: NodeJS.Signals = 'SIGTERM', graceMs = 10_000): Promise<void> {
    if (!this.running) return;
    this.child.kill(signal);
    const timer = sleep(graceMs).then(() => 'timeout' as const);
    if ((await Promise.race([this.exited, timer])) === 'timeout' && this.running) {
      // A second SIGTERM makes the gateway exit at once (still writing its CPU profile); others get SIGKILL.
      this.child.kill(this.name.startsWith('gatehouse') ? 'SIGTERM' : 'SIGKILL');
      await this.exited;
    }
  }
}

export function startBackground(
  log: CommandLog,
  name: string,
  command: string,
  args: readonly string[],
  options: SpawnOptions & { env?: Record<string, string> } = {},
): Background {
  log.note(command, args, options.env ?? {});
  const child = spawn(command, args, {
    ...options,
    env: { ...process.env, ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return new Background(name, child);
}

/** Waits until something accepts TCP connections on host:port, or the process dies, or the deadline passes. */
export async function waitForPort(port: number, server?: Background, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1');
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (ok) return;
    if (server && !server.running) throw new Error(`${server.name} exited before listening:\n${server.log}`);
    if (Date.now() > deadline) throw new Error(`nothing listens on 127.0.0.1:${port} after ${timeoutMs} ms`);
    await sleep(100);
  }
}

/** A port the kernel just handed out; another process could take it before the server binds, which is unlikely. */
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
