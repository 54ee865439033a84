import { once } from 'node:events';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Readable } from 'node:stream';
import type { HttpResourceConfig } from '../../config/schema.js';
import { GatehouseError } from '../../core/errors.js';
import { MaskCounts } from '../../masking/counts.js';
import type { MaskingResolution } from '../../masking/profile.js';
import type { FinishOptions, OperationHandle, OperationResult } from '../../session/session.js';
import type { GatewayServices } from '../protocol-services.js';
import type { CallMeter } from './call-meter.js';
import { type HttpConnector, upstreamError } from './connector.js';
import { sendError } from './error-response.js';
import { callerResponseHeaders, upstreamRequestHeaders } from './headers.js';
import { countBytes } from './request-body.js';
import { MaskingFailure, maskResponse } from './response-masking.js';
import { declaredOverLimit, limitBytes, ResultLimitExceeded } from './result-limit.js';
import { type TappedResponse, tapUsage } from './usage-tap.js';

const BODYLESS_METHODS = new Set(['GET', 'HEAD', 'OPTIONS', 'DELETE']);

/** One allowed request, ready to go upstream. */
export interface ForwardPlan {
  readonly resource: HttpResourceConfig;
  readonly connector: HttpConnector;
  /** Raw path and query below the resource's prefix. */
  readonly path: string;
  /** The gateway's own bytes when it inspected the body (re-serialised, rewritten, masked); else the caller's stream. */
  readonly body: Buffer | undefined;
  readonly handle: OperationHandle;
  readonly masking: MaskingResolution;
  /** Inference calls: read the reported usage (and strip the gateway's usage addition when `stripUsage`). */
  readonly metered: boolean;
  readonly stripUsage: boolean;
  readonly meter: CallMeter;
}

/**
 * The response half of the data path: sends the request upstream with the resource's credential, then streams the
 * answer back through the usage tap (inference calls) and masking, recording the result (with usage and the budget
 * settlement) before the caller sees the response complete. Throws only before the upstream answered.
 */
export async function forward(
  services: GatewayServices,
  req: IncomingMessage,
  res: ServerResponse,
  plan: ForwardPlan,
): Promise<void> {
  const { handle, masking, meter } = plan;
  const abort = new AbortController();
  const onClientGone = () => {
    if (!res.writableFinished) abort.abort();
  };
  res.once('close', onClientGone);
  const method = req.method ?? 'GET';
  const headers = upstreamRequestHeaders(req.headers, plan.resource.credential, req.socket.remoteAddress);
  const redactor = masking.mode === 'mask' ? masking.plan.redactor : undefined;
  // Masking and the usage tap read the body: ask for it uncompressed (a compressed answer is still masked if it comes).
  if (redactor || plan.metered) headers['accept-encoding'] = 'identity';
  const requestBytes = { bytes: plan.body?.length ?? 0 };
  let requestBody: Buffer | AsyncIterable<Buffer> | null = null;
  if (plan.body) {
    headers['content-length'] = String(plan.body.length);
    delete headers['transfer-encoding'];
    // The gateway's bytes are the JSON it parsed: plain, whatever coding the caller claimed.
    delete headers['content-encoding'];
    requestBody = plan.body;
  } else if (!BODYLESS_METHODS.has(method) || req.headers['content-length'] || req.headers['transfer-encoding']) {
    requestBody = countBytes(req, requestBytes);
  }
  const sentAt = performance.now();
  let upstream: Awaited<ReturnType<HttpConnector['request']>>;
  try {
    upstream = await plan.connector.request({
      method,
      path: plan.path,
      headers,
      body: requestBody,
      signal: abort.signal,
    });
  } catch (error) {
    res.off('close', onClientGone);
    throw error;
  }
  // Until the response headers: what `gatehouse_upstream_duration_seconds` measures for HTTP.
  const answered: FinishOptions = { upstreamSeconds: (performance.now() - sentAt) / 1000 };
  const status = upstream.statusCode;
  // maxResultBytes of the rule that allowed the call (result-limit.ts).
  const byteLimit = handle.decision.resultLimits?.bytes;
  const overLimit = declaredOverLimit(upstream.headers['content-length'], byteLimit);
  if (overLimit !== undefined) {
    discard(upstream.body);
    res.off('close', onClientGone);
    const settled = await meter.settle(status, undefined);
    await handle
      .finish({ outcome: 'refused', status: 403, error: 'result-limit', ...settled }, answered)
      .catch(() => undefined);
    sendError(res, overLimit);
    return;
  }
  const tap: TappedResponse | undefined = plan.metered
    ? tapUsage(upstream.body, upstream.headers, plan.stripUsage, services.config.http.maxInspectedBodyBytes)
    : undefined;
  const counts = new MaskCounts();
  let callerHeaders = callerResponseHeaders(upstream.headers);
  if (tap?.rewritten) delete callerHeaders['content-length'];
  let source: AsyncIterable<Buffer> = tap?.body ?? upstream.body;
  // Settles the budget with what the response reported, then adds usage and the settlement to the result record.
  const finish = async (result: OperationResult) =>
    handle.finish(
      {
        ...result,
        ...(upstream.servedBy === undefined ? {} : { servedBy: upstream.servedBy }),
        ...(await meter.settle(status, tap?.usage())),
      },
      answered,
    );
  let masked: ReturnType<typeof maskResponse>;
  try {
    masked =
      redactor === undefined
        ? undefined
        : maskResponse(
            method,
            status,
            upstream.headers,
            callerHeaders,
            (tap?.body ?? upstream.body) as Readable,
            redactor,
            counts,
          );
  } catch (error) {
    discard(upstream.body);
    res.off('close', onClientGone);
    await meter.settle(status, undefined);
    throw error;
  }
  if (masked) {
    callerHeaders = masked.headers;
    source = masked.body;
  }
  if (byteLimit !== undefined) source = limitBytes(source, byteLimit);
  if (!masked) {
    // Fast path: nothing to mask, the caller gets the upstream's bytes (less any usage addition) at once. A stream
    // (SSE, or no length) shows its head right away; otherwise the head rides with the first body bytes: one write.
    res.writeHead(status, callerHeaders);
    const streaming =
      upstream.headers['content-length'] === undefined ||
      String(upstream.headers['content-type'] ?? '').startsWith('text/event-stream');
    if (streaming) res.flushHeaders();
  }
  const contentType = upstream.headers['content-type'];
  handle.capture({ type: 'http-head', status, ...(contentType ? { contentType: String(contentType) } : {}) });
  let bytesOut = 0;
  // A masked response's head waits for its first masked bytes: a masking failure before then is a clean error.
  const head = () => {
    if (!res.headersSent) res.writeHead(status, callerHeaders);
  };
  const maskedCounts = () => (counts.empty ? {} : { masked: counts.toRecord() });
  // With a Content-Length, the caller sees the response complete with its last byte (no terminating chunk to hold
  // back): that byte waits for the result record, with `res.end` below.
  const declared = Number(callerHeaders['content-length'] ?? Number.NaN);
  let lastBytes: Buffer | undefined;
  try {
    for await (const chunk of source) {
      bytesOut += chunk.length;
      head();
      handle.capture({ type: 'http-body', chunk });
      let out = chunk;
      if (Number.isFinite(declared) && bytesOut >= declared && chunk.length > 0) {
        lastBytes = chunk.subarray(chunk.length - 1);
        out = chunk.subarray(0, chunk.length - 1);
      }
      if (out.length > 0 && !res.write(out)) await once(res, 'drain', { signal: abort.signal });
    }
    head();
  } catch (error) {
    discard(upstream.body);
    if (error instanceof ResultLimitExceeded) {
      // Cut: the bytes sent stay sent; the closed connection tells the caller the response is incomplete.
      await finish({ outcome: 'error', status, bytesOut, error: 'result-limit', ...maskedCounts() }).catch(
        () => undefined,
      );
      res.off('close', onClientGone);
      if (res.headersSent) res.destroy();
      else sendError(res, new GatehouseError('policy.denied', error.message));
      return;
    }
    if (error instanceof MaskingFailure) {
      // Fail closed: the caller gets an error (or a cut connection once bytes went out), never unmasked data.
      services.logger.error({ err: error.cause }, 'response masking failed; response withheld');
      await finish({ outcome: 'error', status: 502, bytesOut, error: 'masking-failed', ...maskedCounts() }).catch(
        () => undefined,
      );
      res.off('close', onClientGone);
      if (res.headersSent) res.destroy();
      else sendError(res, new GatehouseError('internal', 'the response could not be masked, so it was withheld'));
      return;
    }
    await finish({
      outcome: 'error',
      status,
      bytesIn: requestBytes.bytes,
      bytesOut,
      error: abort.signal.aborted ? 'client-disconnected' : 'upstream-stream-failed',
      ...maskedCounts(),
    }).catch(() => undefined);
    res.destroy();
    if (!abort.signal.aborted) services.logger.info({ err: upstreamError(error).code }, 'upstream stream failed');
    return;
  } finally {
    res.off('close', onClientGone);
  }
  // The result record is durable before the response completes (its last byte, or the end of a chunked body): a
  // caller never sees a finished, unrecorded answer.
  try {
    await finish({ outcome: 'ok', status, bytesIn: requestBytes.bytes, bytesOut, ...maskedCounts() });
  } catch {
    res.destroy();
    return;
  }
  res.end(lastBytes);
}

/** Drops an upstream body nobody will read; undici reports the abort as an error, which must not go unhandled. */
function discard(body: Readable): void {
  body.on('error', () => undefined);
  body.destroy();
}
