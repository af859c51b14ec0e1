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
 * Writes go through pino's asynchronous destination (sonic-boom), which joins the records written
 * while a write is in flight into the next one. flush() resolves once everything written so far has
 * been written (it waits for the destination to drain); shutdown (SIGTERM) calls it, so no record is lost.
 */
export function createAuditSink(config: AuditSinkConfig): AuditSink {
  const dest = pino.destination(config.type === 'file' ? { dest: config.path, sync: false, mkdir: true, append: true } : { dest: 1, sync: false });
  // Records handed to the destination and not yet written: it emits 'drain' once it has none left.
  let writing = false;
  dest.on('drain', () => { writing = false; });
  return {
    write: (record) => {
      writing = true;
      dest.write(JSON.stringify(record) + '\n');
    },
    flush: () =>
      new Promise<void>((resolve) => {
        if (!writing) {
          resolve();
          return;
        }
        const done = (): void => { dest.off('drain', done); dest.off('error', done); resolve(); };
        dest.once('drain', done);
        dest.once('error', done);
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
