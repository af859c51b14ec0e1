// The allocation/CPU attribution of test/bench/alloc-profile.ts: known samples land on the right side and
// function, and a short real run attributes the Check answer and the stream writes to Tollgate.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { cpuAttribution, heapAttribution, sideOf, type CallFrame, type HeapProfileNode } from '../bench/alloc-attribution.ts';
import { allocProfile } from '../bench/alloc-profile.ts';

const ROOT = 'file:///repo/';
const frame = (functionName: string, path: string, lineNumber = 0): CallFrame => ({ functionName, url: path === '' ? '' : path.startsWith('node:') ? path : ROOT + path, lineNumber });
const node = (callFrame: CallFrame, selfSize: number, children: HeapProfileNode[] = []): HeapProfileNode => ({ callFrame, selfSize, children });

const write = frame('write', 'extproc/processing/stream-handler.ts', 42);
const serialize = frame('serialize', 'node_modules/@grpc/grpc-js/build/src/server-call.js');
const encode = frame('encode', 'node_modules/protobufjs/src/writer.js');
const clientCall = frame('sendMessage', 'node_modules/@grpc/grpc-js/build/src/call.js');
const driver = frame('chat', 'test/bench/alloc-profile.ts');
const http2 = frame('onStreamRead', 'node:internal/http2/core');
const tick = frame('processTicksAndRejections', 'node:internal/process/task_queues');

// 10 requests: write allocates 1 KB itself and 2 KB through grpc-js/protobufjs; the driver 3 KB through the client;
// the server's decoding (no Tollgate frame) 4 KB; the event loop 0.5 KB.
const heap = {
  head: node(frame('(root)', ''), 0, [
    node(tick, 512, [node(write, 1024 * 10, [node(serialize, 0, [node(encode, 2048 * 10)])])]),
    node(driver, 0, [node(clientCall, 3072 * 10)]),
    node(http2, 0, [node(frame('decode', 'node_modules/protobufjs/src/reader.js'), 4096 * 10)]),
  ]),
};

test('heap: what Tollgate calls is charged to the nearest Tollgate function, the rest to its side', () => {
  const a = heapAttribution(heap, 10);
  assert.deepEqual(a.perRequest, { tollgate: 3, grpc: 4, driver: 3, runtime: 512 / 1024 / 10 });
  assert.deepEqual(a.functions, [{ name: 'write extproc/processing/stream-handler.ts:43', perRequest: 3 }]);
});

test('sides: the deepest Tollgate frame wins; grpc-js client files are the driver; server-side grpc-js is grpc', () => {
  const check = frame('check', 'extproc/authz/check-handler.ts');
  assert.equal(sideOf([driver, check, write, encode]).frame, write);
  assert.equal(sideOf([clientCall]).side, 'driver');
  assert.equal(sideOf([tick, serialize]).side, 'grpc');
  assert.equal(sideOf([tick]).side, 'runtime');
});

test('CPU: self time per node by its stack, idle left out, divided by requests', () => {
  const nodes = [
    { id: 1, callFrame: frame('(root)', ''), children: [2, 4, 5] },
    { id: 2, callFrame: tick, children: [3] },
    { id: 3, callFrame: write, children: [] },
    { id: 4, callFrame: frame('(idle)', ''), children: [] },
    { id: 5, callFrame: frame('(garbage collector)', ''), children: [] },
  ];
  const a = cpuAttribution({ nodes, samples: [3, 3, 4, 5, 2], timeDeltas: [100, 300, 5000, 50, 10] }, 2);
  assert.deepEqual(a.perRequest, { tollgate: 200, grpc: 0, driver: 0, runtime: 30 });
  assert.deepEqual(a.functions, [{ name: 'write extproc/processing/stream-handler.ts:43', perRequest: 200 }]);
});

test('a short real run: one audit record per request, and the answers Tollgate sends are on its side', async () => {
  const r = await allocProfile({ requests: 40, concurrency: 4, warmup: 10, dlp: true });
  assert.equal(r.auditRecords, 40);
  const names = r.heap.functions.map((f) => f.name);
  assert.ok(names.some((n) => n.startsWith('write extproc/processing/stream-handler.ts')), names.join('\n'));
  assert.ok(r.heap.perRequest.tollgate > 1 && r.heap.perRequest.driver > 1 && r.heap.perRequest.grpc > 1, JSON.stringify(r.heap.perRequest));
  assert.ok(r.cpu.perRequest.tollgate > 0, JSON.stringify(r.cpu.perRequest));
});
