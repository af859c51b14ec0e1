import type { ServerDuplexStream } from '@grpc/grpc-js';
import { toTollgateError, type ErrorCode } from '../errors.ts';
import type { Services } from '../services.ts';
import { failureFields } from '../telemetry/logger.ts';
import type { ProcessingRequest, ProcessingResponse } from '../wire/ext-proc.ts';
import { Session, type StreamEnd } from './session.ts';

export type ProcessCall = ServerDuplexStream<ProcessingRequest, ProcessingResponse>;

/**
 * The ext_proc bidi loop: one Session per stream, one response per message, strictly in order. A message
 * the Session answers synchronously is answered at once (no Promise); one that waits holds the messages
 * behind it in a queue until its answer is written. CANCELLED from Envoy is a normal end. An internal
 * failure ends the stream with a non-OK status. The session's audit record is written however the stream
 * ends, once the stream has carried a message: a stream that ends without any (an idle or probing client)
 * is no request, and is only counted (`tollgate_extproc_empty_streams_total`), so a flood of empty streams
 * cannot flood the audit.
 */
export function createProcessHandler(services: Services): (call: ProcessCall) => void {
  return (call) => {
    // Made at the first message, so an empty stream holds no request state.
    let session: Session | undefined;
    services.metrics.activeStreams.inc();
    let closed = false;
    let failing = false;
    // A message is being answered asynchronously; `queue` holds what arrived meanwhile, in order.
    let waiting = false;
    let ended = false;
    const queue: ProcessingRequest[] = [];
    const close = (end: StreamEnd, code?: ErrorCode): void => {
      if (closed) return;
      closed = true;
      services.metrics.activeStreams.dec();
      if (session === undefined) services.metrics.emptyStreams.inc();
      else session.close(end, code);
    };
    call.on('cancelled', () => { close('cancelled'); });
    call.on('error', (err) => {
      if (!failing) services.logger.debug({ err }, 'ext_proc stream error');
      close('cancelled');
    });

    const write = (response: ProcessingResponse): void => {
      if (!call.cancelled && !call.destroyed) call.write(response);
    };
    const fail = (s: Session, err: unknown): void => {
      if (call.cancelled) {
        close('cancelled');
        return;
      }
      const e = toTollgateError(err);
      s.request.log().error(failureFields(e), 'ext_proc stream failed');
      close('failed', e.code);
      failing = true;
      // Never a clean close: Envoy would carry on without us and the request would pass unprocessed.
      call.emit('error', { code: e.entry.grpcStatus, details: `tollgate_${e.code}` });
    };
    const answered = (response: ProcessingResponse): void => {
      waiting = false;
      write(response);
      drain();
    };
    const failed = (err: unknown): void => {
      waiting = false;
      if (session !== undefined) fail(session, err);
      drain();
    };
    /** Answers one message; false when its answer is pending (the rest must wait for it). */
    const answer = (s: Session, msg: ProcessingRequest): boolean => {
      let out: ProcessingResponse | Promise<ProcessingResponse>;
      try {
        out = s.handle(msg);
      } catch (err) {
        fail(s, err);
        return true;
      }
      if (!(out instanceof Promise)) {
        write(out);
        return true;
      }
      waiting = true;
      out.then(answered, failed);
      return false;
    };
    const drain = (): void => {
      while (!waiting && !closed && session !== undefined) {
        const msg = queue.shift();
        if (msg === undefined) break;
        answer(session, msg);
      }
      if (ended && !waiting && !closed && queue.length === 0) {
        close('ended');
        call.end();
      }
    };
    call.on('data', (msg: ProcessingRequest) => {
      if (closed) return;
      const s = (session ??= new Session(services));
      if (waiting || queue.length > 0) queue.push(msg);
      else answer(s, msg);
    });
    call.on('end', () => {
      ended = true;
      drain();
    });
  };
}
