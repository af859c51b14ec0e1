import type { ServerDuplexStream } from '@grpc/grpc-js';
import { toTollgateError } from '../errors.ts';
import type { Services } from '../services.ts';
import { failureFields } from '../telemetry/logger.ts';
import type { ProcessingRequest, ProcessingResponse } from '../wire/ext-proc.ts';
import { logFor } from './request-state.ts';
import { Session, type StreamEnd } from './session.ts';

export type ProcessCall = ServerDuplexStream<ProcessingRequest, ProcessingResponse>;

/**
 * The ext_proc bidi loop: one Session per stream, one response per message, in order.
 * CANCELLED from Envoy is a normal end. An internal failure ends the stream with a non-OK status.
 * The session's audit record is written however the stream ends, once the stream has carried a
 * message: a stream that ends without any (an idle or probing client) is no request, and is only
 * counted (`tollgate_extproc_empty_streams_total`), so a flood of empty streams cannot flood the audit.
 */
export function createProcessHandler(services: Services): (call: ProcessCall) => void {
  return (call) => {
    // Made at the first message, so an empty stream holds no request state.
    let session: Session | undefined;
    services.metrics.activeStreams.inc();
    let closed = false;
    let failing = false;
    const close = (end: StreamEnd, code?: Parameters<Session['close']>[1]): void => {
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

    // Messages are handled strictly in order: each waits for the previous one's answer.
    let chain: Promise<void> = Promise.resolve();
    const step = async (session: Session, msg: ProcessingRequest): Promise<void> => {
      if (closed) return;
      try {
        const response = await session.handle(msg);
        if (!call.cancelled && !call.destroyed) call.write(response);
      } catch (err) {
        if (call.cancelled) {
          close('cancelled');
          return;
        }
        const e = toTollgateError(err);
        logFor(session.state).error(failureFields(e), 'ext_proc stream failed');
        close('failed', e.code);
        failing = true;
        // Never a clean close: Envoy would carry on without us and the request would pass unprocessed.
        call.emit('error', { code: e.entry.grpcStatus, details: `tollgate_${e.code}` });
      }
    };
    call.on('data', (msg: ProcessingRequest) => {
      if (closed) return;
      const s = (session ??= new Session(services));
      chain = chain.then(() => step(s, msg));
    });
    call.on('end', () => {
      chain = chain.then(() => {
        if (closed) return;
        close('ended');
        call.end();
      });
    });
  };
}
