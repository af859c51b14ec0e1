// One ext_proc stream driven the way Envoy drives it: send a message, read exactly one answer, in order.
import type { ClientDuplexStream, ServiceError, StatusObject } from '@grpc/grpc-js';
import type { DecodedProcessingResponse, SentProcessingRequest } from './messages.ts';

/** How the stream ended, as the client saw it. */
export interface StreamEnd {
  readonly code: number;
  readonly details: string;
  /** True if grpc-js raised an error event (any non-OK status). */
  readonly errored: boolean;
}

type Waiter = { resolve: (r: DecodedProcessingResponse) => void; reject: (e: Error) => void };

export class ProcStream {
  readonly #call: ClientDuplexStream<SentProcessingRequest, DecodedProcessingResponse>;
  readonly #queue: DecodedProcessingResponse[] = [];
  readonly #waiters: Waiter[] = [];
  #error: ServiceError | undefined;
  #ended = false;
  readonly ended: Promise<StreamEnd>;

  constructor(call: ClientDuplexStream<SentProcessingRequest, DecodedProcessingResponse>) {
    this.#call = call;
    call.on('data', (r: DecodedProcessingResponse) => {
      const w = this.#waiters.shift();
      if (w === undefined) this.#queue.push(r);
      else w.resolve(r);
    });
    call.on('error', (err: ServiceError) => {
      this.#error = err;
    });
    this.ended = new Promise<StreamEnd>((resolve) => {
      call.on('status', (s: StatusObject) => {
        this.#ended = true;
        // grpc-js emits 'error' before 'status' for a non-OK status.
        resolve({ code: s.code, details: s.details, errored: this.#error !== undefined });
        for (const w of this.#waiters.splice(0)) w.reject(new Error(`stream ended (code ${s.code}: ${s.details}) before an answer`));
      });
    });
  }

  /** The next answer; fails if the stream ends first or nothing arrives in time. */
  next(timeoutMs = 2_000): Promise<DecodedProcessingResponse> {
    const queued = this.#queue.shift();
    if (queued !== undefined) return Promise.resolve(queued);
    if (this.#ended) return Promise.reject(new Error('stream already ended'));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        const i = this.#waiters.indexOf(waiter);
        if (i >= 0) this.#waiters.splice(i, 1);
        reject(new Error(`no ext_proc answer within ${timeoutMs} ms`));
      }, timeoutMs);
      const waiter: Waiter = {
        resolve: (r) => { clearTimeout(timer); resolve(r); },
        reject: (e) => { clearTimeout(timer); reject(e); },
      };
      this.#waiters.push(waiter);
    });
  }

  write(msg: SentProcessingRequest): void {
    this.#call.write(msg);
  }

  /** Sends one message and reads its one answer. */
  async send(msg: SentProcessingRequest): Promise<DecodedProcessingResponse> {
    this.write(msg);
    return this.next();
  }

  /** Half-closes (Envoy's end of the HTTP stream) and waits for the server's status. */
  async end(): Promise<StreamEnd> {
    this.#call.end();
    return this.ended;
  }

  /** Resets the stream, as Envoy does when the downstream goes away. */
  cancel(): void {
    this.#call.cancel();
  }

  /** Answers received and not yet read. */
  get pending(): number {
    return this.#queue.length;
  }
}
