// Bench-only probe, preloaded into Tollgate and the floor with `node --import` (never by product code):
// counts the serialized bytes of every ext_authz and ext_proc message both ways, and the bytes allocated
// on the V8 heap, and serves the running totals on 127.0.0.1 for the harness to read between windows.
//
// Message sizes: grpc-js calls the service definition's requestDeserialize / responseSerialize for each
// message; the probe wraps those of the shared, cached definitions (extproc/wire/proto.ts) before the
// server registers them. Heap: V8 has no running total of allocation, so it is the bytes in use now plus
// what every garbage collection freed since the start (v8.GCProfiler, folded at each read).
//
// Prints "bench probe listening PORT" on stderr once listening.
import { createServer } from 'node:http';
import { GCProfiler, getHeapStatistics } from 'node:v8';
import { envoyServices } from '../../extproc/wire/proto.ts';
import { answerKind, foldGcStats, type GcStat, type ProbeTotals } from './probe-stats.ts';

function install(): () => ProbeTotals {
  const messages: ProbeTotals['messages'] = {};
  // One counter object per kind, looked up by the message's field name: no string is built per message.
  const counterIn: Record<string, { count: number; bytes: number }> = {};
  const counterOut: Record<string, { count: number; bytes: number }> = {};
  const counter = (table: Record<string, { count: number; bytes: number }>, name: string, dir: 'in' | 'out'): { count: number; bytes: number } =>
    (table[name] ??= (messages[`${name}:${dir}`] = { count: 0, bytes: 0 }));
  const add = (c: { count: number; bytes: number }, bytes: number): void => {
    c.count += 1;
    c.bytes += bytes;
  };
  const checkInCounter = counter(counterIn, 'check', 'in');
  const checkOutCounter = counter(counterOut, 'check', 'out');
  const services = envoyServices();
  const check = services.authorization.Check;
  const processMethod = services.externalProcessor.Process;
  if (check === undefined || processMethod === undefined) throw new Error('bench probe: Check or Process missing from the service definitions');
  const checkIn = check.requestDeserialize;
  const checkOut = check.responseSerialize;
  check.requestDeserialize = (buf: Buffer): unknown => { add(checkInCounter, buf.length); return checkIn(buf) as unknown; };
  check.responseSerialize = (value: unknown) => { const buf = checkOut(value); add(checkOutCounter, buf.length); return buf; };
  const procIn = processMethod.requestDeserialize;
  const procOut = processMethod.responseSerialize;
  processMethod.requestDeserialize = (buf: Buffer) => {
    const msg = procIn(buf) as { request?: string };
    add(counterIn[msg.request ?? 'other'] ?? counter(counterIn, msg.request ?? 'other', 'in'), buf.length);
    return msg;
  };
  processMethod.responseSerialize = (value: unknown) => {
    const buf = procOut(value);
    const kind = answerKind(value);
    add(counterOut[kind] ?? counter(counterOut, kind, 'out'), buf.length);
    return buf;
  };

  let gc = new GCProfiler();
  gc.start();
  const baseUsed = getHeapStatistics().used_heap_size;
  let freed = 0;
  let gcCount = 0;
  let gcPauseUs = 0;
  return () => {
    const stats: readonly GcStat[] = gc.stop().statistics;
    gc = new GCProfiler();
    gc.start();
    const f = foldGcStats(stats);
    freed += f.freedBytes;
    gcCount += f.count;
    gcPauseUs += f.pauseUs;
    return { messages: structuredClone(messages), heapAllocatedBytes: getHeapStatistics().used_heap_size - baseUsed + freed, gcCount, gcPauseUs };
  };
}

const read = install();
const server = createServer((req, res) => {
  if (req.method !== 'GET' || req.url !== '/probe') {
    res.writeHead(404).end();
    return;
  }
  res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(read()));
});
// The probe must not keep a process alive that would otherwise exit.
server.unref();
server.listen(0, '127.0.0.1', () => {
  const a = server.address();
  process.stderr.write(`bench probe listening ${typeof a === 'object' && a !== null ? a.port : '?'}\n`);
});
