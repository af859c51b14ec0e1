// Envoy ends each ext_proc stream with RST_STREAM (ADR 0006). A grpc-js server with the raised budget keeps
// the connection through thousands of resets; one without it (Node's default: a burst of 1000, then 33/s)
// sends GOAWAY, and every stream in flight on the connection fails.
import assert from 'node:assert/strict';
import { Server, ServerCredentials } from '@grpc/grpc-js';
import { connect, constants } from 'node:http2';
import { describe, it } from 'node:test';
import { raiseStreamResetBudget } from '../../extproc/server/stream-reset-budget.ts';

/** Opens `n` streams on one connection and resets each; then reports whether the server sent GOAWAY. */
async function resetStorm(raise: boolean, n: number): Promise<boolean> {
  const server = new Server();
  if (raise) raiseStreamResetBudget(server);
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (err, p) => { if (err === null) resolve(p); else reject(err); });
  });
  const session = connect(`http://127.0.0.1:${port}`);
  const seen = { goaway: false };
  session.on('goaway', () => { seen.goaway = true; });
  session.on('error', () => undefined);
  try {
    await new Promise<void>((resolve) => { session.once('connect', () => { resolve(); }); });
    for (let i = 0; i < n && !seen.goaway && !session.destroyed; i++) {
      const req = session.request({ ':method': 'POST', ':path': '/x.Y/Z', 'content-type': 'application/grpc', te: 'trailers' });
      req.on('error', () => undefined);
      req.close(constants.NGHTTP2_CANCEL);
      if (i % 100 === 99) await new Promise((r) => setImmediate(r));
    }
    // A ping round trip: everything sent so far has reached the server and been answered.
    await new Promise<void>((resolve) => { if (session.destroyed || seen.goaway || !session.ping(() => { resolve(); })) resolve(); });
    await new Promise((r) => setTimeout(r, 50));
    return seen.goaway || session.destroyed;
  } finally {
    session.destroy();
    server.forceShutdown();
  }
}

describe('the HTTP/2 stream reset budget of the gRPC server', () => {
  it('with the raised budget, 3000 resets in a burst keep the connection', async () => {
    assert.equal(await resetStorm(true, 3000), false);
  });
  it('without it, the same burst drops the connection (the check is real)', async () => {
    assert.equal(await resetStorm(false, 3000), true);
  });
});
