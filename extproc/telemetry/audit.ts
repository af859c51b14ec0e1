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
 * Records written during one turn of the event loop are joined and handed to pino's asynchronous
 * destination (sonic-boom) as one write at the end of that turn (setImmediate): under load one write
 * carries many records, and a record is never held back longer than the turn that wrote it. flush()
 * hands over what is pending and drains the destination; shutdown (SIGTERM) calls it, so no record is lost.
 */
export function createAuditSink(config: AuditSinkConfig): AuditSink {
  const dest = pino.destination(config.type === 'file' ? { dest: config.path, sync: false, mkdir: true, append: true } : { dest: 1, sync: false });
  let pending = '';
  let scheduled = false;
  // Lines handed to the destination and not yet written: the destination emits 'drain' once it has none.
  let writing = false;
  dest.on('drain', () => { writing = false; });
  const handOver = (): void => {
    scheduled = false;
    if (pending === '') return;
    const lines = pending;
    pending = '';
    writing = true;
    dest.write(lines);
  };
  return {
    write: (record) => {
      pending += JSON.stringify(record) + '\n';
      if (!scheduled) {
        scheduled = true;
        setImmediate(handOver);
      }
    },
    flush: () =>
      new Promise<void>((resolve) => {
        handOver();
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
