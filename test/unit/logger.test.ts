// The logger never prints credentials: redact paths and Secret.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { Secret } from '../../extproc/core/secret.ts';
import { TollgateError } from '../../extproc/errors.ts';
import { createLogger, failureFields, type Logger } from '../../extproc/telemetry/logger.ts';

const S = 'sk-live-TOPSECRET-0123456789';

function capture(level = 'debug'): { log: Logger; lines: () => Record<string, unknown>[]; text: () => string } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer | string, _enc, cb) {
      chunks.push(chunk.toString());
      cb();
    },
  });
  const log = createLogger(level, stream);
  const text = (): string => chunks.join('');
  return { log, text, lines: () => text().split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as Record<string, unknown>) };
}

describe('createLogger', () => {
  const objects: readonly [string, Record<string, unknown>][] = [
    ['authorization', { authorization: `Bearer ${S}` }],
    ['proxy-authorization', { 'proxy-authorization': `Basic ${S}` }],
    ['cookie', { cookie: `session=${S}` }],
    ['x-api-key', { 'x-api-key': S }],
    ['api-key', { 'api-key': S }],
    ['secret', { secret: S }],
    ['apiKey', { apiKey: S }],
    ['token', { token: S }],
    ['a header map', { headers: { authorization: `Bearer ${S}`, 'x-anything': S } }],
    ['a nested header map', { request: { headers: { 'x-api-key': S, 'x-custom-auth': S } } }],
    ['nested authorization', { upstream: { authorization: `Bearer ${S}` } }],
    ['nested x-api-key', { caller: { 'x-api-key': S } }],
    ['nested api-key', { caller: { 'api-key': S } }],
    ['nested secret', { credential: { secret: S } }],
    ['nested apiKey', { provider: { apiKey: S } }],
    ['nested token', { vault: { token: S } }],
    ['a Secret instance', { credential: new Secret(S) }],
    ['a deeply nested Secret instance', { a: { b: { c: { d: [new Secret(S)] } } } }],
  ];
  for (const [label, obj] of objects) {
    it(`redacts ${label}`, () => {
      const { log, text, lines } = capture();
      log.info(obj, 'request handled');
      assert.ok(!text().includes(S), text());
      assert.ok(!text().includes('TOPSECRET'), text());
      assert.match(text(), /\[redacted\]/);
      const [line] = lines();
      assert.equal(line?.msg, 'request handled');
      assert.equal(line.level, 'info');
      assert.equal(line.service, 'tollgate');
    });
  }

  it('redacts secret fields three levels deep', () => {
    const { log, text } = capture();
    log.info({ ctx: { provider: { secret: S } } });
    log.info({ ctx: { req: { headers: { authorization: `Bearer ${S}` } } } });
    assert.ok(!text().includes(S), text());
  });

  it('keeps fields that are not secret', () => {
    const { log, lines } = capture();
    log.info({ request_id: 'req-1', model: 'gpt-4o', headers_count: 3, provider: { name: 'openai' }, credential: new Secret(S) }, 'ok');
    const [line] = lines();
    assert.equal(line?.request_id, 'req-1');
    assert.equal(line.model, 'gpt-4o');
    assert.equal(line.headers_count, 3);
    assert.deepEqual(line.provider, { name: 'openai' });
    assert.equal(line.credential, '[redacted]');
  });

  it('redacts in child logger bindings and in the message', () => {
    const { log, text, lines } = capture();
    log.child({ request_id: 'req-2', authorization: `Bearer ${S}` }).info('using %s for %s', new Secret(S), 'openai');
    assert.ok(!text().includes(S), text());
    const [line] = lines();
    assert.equal(line?.request_id, 'req-2');
    assert.equal(line.msg, 'using [redacted] for openai');
  });

  it('redacts a Secret on an error object', () => {
    const { log, text } = capture();
    const err = Object.assign(new Error('upstream rejected the key'), { secret: new Secret(S), apiKey: S });
    log.error({ err }, 'failed');
    assert.ok(!text().includes(S), text());
    assert.match(text(), /upstream rejected the key/);
  });

  const levels: readonly [string, number][] = [['debug', 3], ['info', 2], ['warn', 1], ['silent', 0]];
  for (const [level, count] of levels) {
    it(`at level ${level} writes ${count} of debug/info/warn`, () => {
      const { log, lines } = capture(level);
      log.debug('d');
      log.info('i');
      log.warn('w');
      assert.equal(lines().length, count);
    });
  }
});

describe('failureFields: one line per failed request', () => {
  it('an operational failure: code, message and cause, no stack', () => {
    const { log, text, lines } = capture();
    const e = new TollgateError('credential_unavailable', 'vault sealed', { cause: new Error('vault: 503 sealed') });
    log.error(failureFields(e), 'request failed');
    const [line] = lines();
    assert.deepEqual([line?.code, line?.error, line?.cause], ['credential_unavailable', 'credential_unavailable: vault sealed', 'vault: 503 sealed']);
    assert.equal(line?.err, undefined);
    assert.doesNotMatch(text(), /"stack"|\\n\s+at /);
  });

  it('an internal error (a bug): the stack, which is what a fix needs', () => {
    const { log, lines } = capture();
    log.error(failureFields(new TollgateError('internal', undefined, { cause: new TypeError('x is undefined') })), 'request failed');
    const [line] = lines();
    assert.equal(line?.code, 'internal');
    const err = line.err as { type?: string; message?: string; stack?: string } | undefined;
    assert.equal(err?.type, 'TypeError');
    assert.match(err.stack ?? '', /\n\s+at /);
  });

  it('a Secret in the cause never prints', () => {
    const { log, text } = capture();
    log.error(failureFields(new TollgateError('credential_unavailable', undefined, { cause: new Error(`bad ${String(new Secret(S))}`) })), 'request failed');
    assert.ok(!text().includes(S), text());
  });
});
