import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import { parse, serialize } from 'pg-protocol';
import type { BackendMessage } from 'pg-protocol/dist/messages.js';

/**
 * A bare protocol client for tests that need exact control of the bytes: pipelined batches, garbage, truncation.
 * Frontend messages come from pg-protocol's serializer and backend messages are decoded by pg-protocol's parser, so
 * the gateway's own codec is not used to check itself.
 */
export class RawClient {
  readonly messages: BackendMessage[] = [];
  readonly closed: Promise<void>;
  private waiters: (() => void)[] = [];

  private constructor(readonly socket: Socket) {
    void parse(socket, (message) => {
      this.messages.push(message);
      this.wake();
    }).catch(() => undefined);
    this.closed = new Promise((resolve) => socket.once('close', () => resolve()));
    void this.closed.then(() => this.wake());
    socket.on('error', () => undefined);
  }

  static async open(host: string, port: number): Promise<RawClient> {
    const socket = connect({ host, port });
    await once(socket, 'connect');
    return new RawClient(socket);
  }

  /** Logs in with a token as the password and waits for the first ReadyForQuery. */
  static async login(host: string, port: number, token: string, database = 'app'): Promise<RawClient> {
    const client = await RawClient.open(host, port);
    client.write(serialize.startup({ user: 'agent', database }));
    await client.until('authenticationCleartextPassword');
    client.write(serialize.password(token));
    await client.until('readyForQuery');
    client.messages.length = 0;
    return client;
  }

  write(...buffers: Buffer[]): void {
    this.socket.write(Buffer.concat(buffers));
  }

  /** Waits until a message of this name arrived (or the connection closed); returns everything received so far. */
  async until(name: string, count = 1): Promise<BackendMessage[]> {
    for (;;) {
      if (this.messages.filter((m) => m.name === name).length >= count) return this.messages;
      if (this.socket.destroyed || this.socket.readableEnded) {
        throw new Error(`connection closed before ${name}; got ${this.messages.map((m) => m.name).join(', ')}`);
      }
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
  }

  names(): string[] {
    return this.messages.map((m) => m.name);
  }

  close(): void {
    this.socket.destroy();
  }

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const wake of waiters) wake();
  }
}
