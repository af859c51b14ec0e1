import { pino } from 'pino';
import type { AuditSinkConfig } from '../config/schema.ts';
import type { AuditRecord } from './audit-record.ts';

export { AUDIT_SCHEMA, auditPath, type AuditRecord } from './audit-record.ts';

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
