import type { IncomingHttpHeaders } from 'node:http';
import type { Readable } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';
import { createParser } from 'eventsource-parser';
import { RPC_ERRORS, RpcError } from './jsonrpc.js';

// What an MCP server sends back over HTTP, read within bounds, and the errors the HTTP connector turns it into.

/** A message the server sent (a response, a notification, or a request of its own). */
export interface ServerMessage {
  readonly id?: unknown;
  readonly method?: unknown;
  readonly params?: unknown;
  readonly result?: unknown;
  readonly error?: { readonly code?: unknown; readonly message?: unknown };
}

/**
 * Reads the messages of an event stream into `onMessage`; an event longer than `limit` bytes drops the stream
 * and is reported as `undefined`. Events of other types than `message`, and data that is not a JSON object, are
 * skipped.
 */
export function readEventStream(
  body: Readable,
  limit: number,
  onMessage: (message: ServerMessage | undefined) => void,
): void {
  let pending = 0;
  const parser = createParser({
    onEvent: (event) => {
      pending = 0;
      if (event.event !== undefined && event.event !== 'message') return;
      const message = parseMessage(event.data);
      if (message !== undefined) onMessage(message);
    },
  });
  // Decoded here rather than with setEncoding, which undici's bodies do not honour; a character split between two
  // chunks is kept for the next.
  const decoder = new StringDecoder('utf8');
  body.on('data', (chunk: Buffer) => {
    pending += chunk.length;
    if (pending > limit) {
      body.destroy();
      onMessage(undefined);
      return;
    }
    parser.feed(decoder.write(chunk));
  });
}

/** An error that says nothing against the session: the server answered (its own error), or answered too much. */
export class SessionIntact extends RpcError {}

/** A call ended by the gateway (timeout, caller gone) rather than by the server or the connection. */
export class CallEnded extends Error {
  constructor(
    reason: string,
    readonly failure: RpcError,
  ) {
    super(reason);
  }
}

export function unreachable(why?: string): RpcError {
  return new RpcError(
    RPC_ERRORS.upstream,
    why === undefined ? 'the MCP server could not be reached' : `the MCP server ${why}`,
  );
}

/** The server's own error (unknown tool, bad arguments): its code and message, without data (may hold internals). */
export function serverError(error: ServerMessage['error']): RpcError {
  const code = typeof error?.code === 'number' && Number.isInteger(error.code) ? error.code : RPC_ERRORS.internal;
  const message = typeof error?.message === 'string' ? error.message : 'the MCP server reported an error';
  return new SessionIntact(code, message);
}

export function tooLarge(limit: number): RpcError {
  return new SessionIntact(RPC_ERRORS.tooLarge, `the result is larger than this resource allows (${limit})`);
}

export function parseMessage(text: string): ServerMessage | undefined {
  try {
    const value: unknown = JSON.parse(text);
    return isObject(value) ? (value as ServerMessage) : undefined;
  } catch {
    return undefined;
  }
}

export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function headerOf(headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name];
  return typeof value === 'string' ? value : undefined;
}

/**
 * The body as text, or undefined past `limit` bytes (the stream is dropped: the result would be refused anyway,
 * and the gateway does not hold more of it than it may send).
 */
export function readBody(body: Readable, limit: number): Promise<string | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    body.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        body.destroy();
        resolve(undefined);
        return;
      }
      chunks.push(chunk);
    });
    body.once('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    body.once('error', reject);
  });
}
