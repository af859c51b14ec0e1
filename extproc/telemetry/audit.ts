import { pino } from 'pino';
import type { AuditSinkConfig } from '../config/schema.ts';
import type { ErrorCode } from '../errors.ts';

export const AUDIT_SCHEMA = 'tollgate.audit.v1';

/**
 * One record per request. Holds no secrets and no prompt text: only sizes and a SHA-256 of the body.
 * `stage` says which service wrote it: "authz" for requests ext_authz denied, "proc" for the rest.
 */
export interface AuditRecord {
  readonly schema: typeof AUDIT_SCHEMA;
  readonly time: string;
  readonly stage: 'authz' | 'proc';
  readonly request_id: string | null;
  readonly decision_id: string;
  readonly identity: string | null;
  readonly tenant: string | null;
  readonly provider: string | null;
  readonly model: string | null;
  readonly method: string | null;
  readonly path: string | null;
  readonly decision: 'allow' | 'deny' | 'error';
  readonly outcome: 'completed' | 'denied' | 'failed' | 'cancelled';
  readonly reason: ErrorCode | null;
  readonly rule: string | null;
  readonly http_status: number | null;
  readonly request: { readonly body_bytes: number; readonly body_sha256: string | null } | null;
  readonly response: { readonly body_bytes: number; readonly streamed: boolean } | null;
  readonly usage: { readonly input_tokens: number; readonly output_tokens: number; readonly total_tokens: number } | null;
  readonly latency_ms: { readonly total: number; readonly tollgate: number };
  readonly policy_revision: string;
}

/** The path without its query string (queries may carry keys, e.g. Azure's ?api-key=), bounded. */
export function auditPath(path: string | undefined): string | null {
  if (path === undefined || path === '') return null;
  const q = path.search(/[?#]/);
  return (q < 0 ? path : path.slice(0, q)).slice(0, 512);
}

export interface AuditSink {
  write(record: AuditRecord): void;
  /** Flushes buffered records to their destination. */
  flush(): Promise<void>;
}

/**
 * JSON lines, one record per line, to stdout or a file (opened for append), ready for a SIEM.
 * Writes go through pino's asynchronous destination (sonic-boom); flush() drains it.
 */
export function createAuditSink(config: AuditSinkConfig): AuditSink {
  const dest = pino.destination(config.type === 'file' ? { dest: config.path, sync: false, mkdir: true, append: true } : { dest: 1, sync: false });
  return {
    write: (record) => { dest.write(JSON.stringify(record) + '\n'); },
    flush: () =>
      new Promise<void>((resolve) => {
        dest.flush(() => { resolve(); });
      }),
  };
}

/** For tests and embedding: keeps records in memory. */
export class MemoryAuditSink implements AuditSink {
  readonly records: AuditRecord[] = [];
  write(record: AuditRecord): void {
    this.records.push(record);
  }
  flush(): Promise<void> {
    return Promise.resolve();
  }
}
