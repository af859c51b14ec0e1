// Scanner behaviour: caps fail closed, allow-list, overlap merging, segment scanning, custom detectors on the
// linear engine (and refused patterns), and no matched value anywhere in findings or errors.
import assert from 'node:assert/strict';
import { inspect } from 'node:util';
import { describe, it } from 'node:test';
import { compileLinear, CustomPatternError, customDetector, literalPrefix } from '../../extproc/detectors/custom-pattern.ts';
import { buildScanner } from '../../extproc/detectors/registry.ts';
import { ScanBudget, ScanLimitError, DEFAULT_SCAN_LIMITS, threadCpuMs } from '../../extproc/detectors/scan-limits.ts';
import { Scanner } from '../../extproc/detectors/scanner.ts';
import { luhnValid, mod97Valid, runValidator } from '../../extproc/detectors/validators.ts';

const limits = (over: Partial<typeof DEFAULT_SCAN_LIMITS>) => ({ ...DEFAULT_SCAN_LIMITS, ...over });

describe('scan caps fail closed', () => {
  it('input bytes: a text over the cap throws before scanning; multi-byte text is counted in UTF-8', () => {
    const s = buildScanner({ limits: limits({ maxInputBytes: 1000 }) });
    assert.throws(() => s.scan('a'.repeat(1001)), (e: unknown) => e instanceof ScanLimitError && e.limit === 'input_bytes');
    assert.doesNotThrow(() => s.scan('a'.repeat(1000)));
    // 400 characters of 3-byte text = 1200 bytes.
    assert.throws(() => s.scan('€'.repeat(400)), (e: unknown) => e instanceof ScanLimitError && e.limit === 'input_bytes');
    // Emoji: 2 UTF-16 units, 4 UTF-8 bytes each.
    assert.throws(() => s.scan('😀'.repeat(251)), (e: unknown) => e instanceof ScanLimitError && e.limit === 'input_bytes');
    assert.doesNotThrow(() => s.scan('😀'.repeat(250)));
  });

  it('input bytes are shared across the segments of one request', () => {
    const s = buildScanner({ limits: limits({ maxInputBytes: 1500 }) });
    const seg = { path: ['m', 0], text: 'x'.repeat(800), role: 'user' as const };
    assert.doesNotThrow(() => s.scanSegments([seg]));
    assert.throws(() => s.scanSegments([seg, { ...seg, path: ['m', 1] }]), ScanLimitError);
  });

  it('findings: more than maxFindings throws', () => {
    const s = buildScanner({ limits: limits({ maxFindings: 10 }) });
    const ten = Array.from({ length: 10 }, (_, k) => `u${k}@example.com`).join(' ');
    assert.equal(s.scan(ten).length, 10);
    assert.throws(() => s.scan(`${ten} u10@example.com`), (e: unknown) => e instanceof ScanLimitError && e.limit === 'findings');
  });

  it('time: a scan past its CPU budget throws', () => {
    const s = buildScanner({ limits: limits({ maxScanMs: 1, maxInputBytes: 64 * 1024 * 1024 }) });
    const budget = new ScanBudget(s.limits, performance.now() - 10, threadCpuMs() - 10);
    assert.throws(() => s.scan('hello', budget), (e: unknown) => e instanceof ScanLimitError && e.limit === 'time');
    // A large input is interrupted mid-scan, not only checked at the end.
    assert.throws(() => s.scan('a@b.co '.repeat(5_000_000)), (e: unknown) => e instanceof ScanLimitError);
  });
});

describe('scan time is CPU time', () => {
  // The thread blocks without using CPU: what a starved process sees when the machine is busy.
  const blockFor = (ms: number): void => { Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms); };
  const spinFor = (ms: number): void => { const end = threadCpuMs() + ms; while (threadCpuMs() < end) { /* CPU */ } };

  it('time the thread did not run is not charged to the scan (a loaded machine refuses nothing)', () => {
    const budget = new ScanBudget(limits({ maxScanMs: 20 }));
    blockFor(60);
    budget.checkTime();
    blockFor(60);
    budget.checkTime();
  });

  it('CPU spent past the budget throws, also after the thread waited', () => {
    const budget = new ScanBudget(limits({ maxScanMs: 20 }));
    blockFor(30);
    spinFor(10);
    budget.checkTime();
    spinFor(15);
    assert.throws(() => { budget.checkTime(); }, (e: unknown) => e instanceof ScanLimitError && e.limit === 'time');
  });
});

describe('allow-list and overlaps', () => {
  it('allow-listed values are dropped; the default list holds AWS documentation examples', () => {
    assert.deepEqual(buildScanner().scan('AKIAIOSFODNN7EXAMPLE'), []);
    // Without the list the example is still no finding (placeholder gate); a real-looking key id is one until listed.
    assert.equal(buildScanner({ allowList: [] }).scan('AKIAIOSFODNN7EXAMPLE').length, 0);
    assert.equal(buildScanner({ allowList: [] }).scan('AKIA4Q3EGRIVYW6TQSPW').length, 1);
    assert.equal(buildScanner({ allowList: ['AKIA4Q3EGRIVYW6TQSPW'] }).scan('AKIA4Q3EGRIVYW6TQSPW').length, 0);
    assert.deepEqual(buildScanner({ allowList: ['ops@example.com'] }).scan('mail ops@example.com').length, 0);
  });

  it('overlapping hits merge into one finding covering both, named by the longer', () => {
    const jwt = 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJlLXNpZ25hdHVyZQ';
    const text = `Authorization: Bearer ${jwt}`;
    const found = buildScanner().scan(text);
    assert.equal(found.length, 1);
    assert.equal(text.slice(found[0]!.start, found[0]!.end), jwt);
  });

  it('duplicate detector ids are refused', () => {
    const d = customDetector({ id: 'custom.x', type: 'X', pattern: 'x[0-9]+' });
    assert.throws(() => new Scanner([d, d], { limits: DEFAULT_SCAN_LIMITS }), /duplicate/);
  });

  it('a number detector whose short-token bound is past the 32-digit cap is refused with its id', () => {
    const num = (below: number) => ({
      kind: 'number' as const,
      id: 'test.num',
      type: 'NUM',
      maxLength: 40,
      minDigits: 1,
      shortTokens: { below, next: () => true, then: () => true },
      onNumber: () => undefined,
    });
    assert.doesNotThrow(() => new Scanner([num(32)], { limits: DEFAULT_SCAN_LIMITS }));
    assert.throws(() => new Scanner([num(33)], { limits: DEFAULT_SCAN_LIMITS }), /test\.num: shortTokens\.below/);
  });
});

describe('segments', () => {
  it('findings carry the segment index and offsets into that segment', () => {
    const segs = [
      { path: ['messages', 0, 'content'], text: 'nothing here', role: 'user' as const },
      { path: ['messages', 1, 'content'], text: 'write to a@example.org', role: 'tool' as const },
    ];
    const [f] = buildScanner().scanSegments(segs);
    assert.deepEqual(f, { detector: 'pii.email', type: 'EMAIL', start: 9, end: 22, segment: 1 });
  });
});

describe('custom detectors', () => {
  it('run on the linear engine with validator, context words and length bounds', () => {
    const d = customDetector({ id: 'custom.emp', type: 'EMPLOYEE_ID', pattern: 'EMP-[0-9]+', contextWords: ['employee'], minLength: 8, maxLength: 12 });
    const s = new Scanner([d], { limits: DEFAULT_SCAN_LIMITS });
    const text = 'employee EMP-123456 and EMP-1 and employee EMP-1234567890123';
    assert.deepEqual(s.scan(text).map((f) => text.slice(f.start, f.end)), ['EMP-123456']);
    assert.deepEqual(s.scan('no context EMP-123456').length, 0);
    const card = new Scanner([customDetector({ id: 'custom.card', type: 'CARD', pattern: 'CARD:[0-9]+', validator: 'luhn' })], { limits: DEFAULT_SCAN_LIMITS });
    assert.deepEqual(card.scan('CARD:4242424242424242 CARD:4242424242424241').length, 1);
  });

  it('keywords (given or the literal prefix) gate the engine to windows, with the same results', () => {
    assert.equal(literalPrefix('acme_[a-z0-9]+'), 'acme_');
    assert.equal(literalPrefix('tok\\-[0-9]+'), 'tok-');
    assert.equal(literalPrefix('[a-z]+'), '');
    const d = customDetector({ id: 'custom.acme', type: 'ACME', pattern: 'acme_[a-z0-9]+', minLength: 20, maxLength: 40 });
    const s = new Scanner([d], { limits: DEFAULT_SCAN_LIMITS });
    const filler = 'lorem ipsum '.repeat(20000);
    const text = `${filler}acme_abcdefghij0123456789 ${filler} acme_short ${filler}acme_0123456789abcdefghijk`;
    const found = s.scan(text).map((f) => text.slice(f.start, f.end));
    assert.deepEqual(found, ['acme_abcdefghij0123456789', 'acme_0123456789abcdefghijk']);
  });

  it('patterns the linear engine cannot run are refused at load with the detector id', () => {
    for (const bad of ['(a)\\1', '(?<=x)y', '(?=x)y', 'x{40}', '(?i:abc)', '']) {
      assert.throws(() => compileLinear('custom.bad', bad), (e: unknown) => e instanceof CustomPatternError && e.message.includes('custom.bad'), bad);
    }
    assert.throws(() => compileLinear('custom.empty', 'a*'), /empty string/);
  });

  it('a catastrophic-backtracking shape runs in linear time on the linear engine', () => {
    const d = customDetector({ id: 'custom.redos', type: 'REDOS', pattern: '(a+)+b' });
    const s = new Scanner([d], { limits: DEFAULT_SCAN_LIMITS });
    const t = performance.now();
    assert.equal(s.scan(`${'a'.repeat(5000)}!`).length, 0);
    assert.ok(performance.now() - t < 2000);
  });
});

describe('validators', () => {
  it('luhn, mod97 and the named validators', () => {
    assert.equal(luhnValid('79927398713'), true);
    assert.equal(luhnValid('79927398710'), false);
    assert.equal(mod97Valid('GB82WEST12345698765432'), true);
    assert.equal(mod97Valid('GB82WEST12345698765433'), false);
    assert.equal(runValidator('mod97', 'gb82 west 1234 5698 7654 32'), true);
  });
});

describe('no values outside the scan', () => {
  it('findings and limit errors never contain the matched text', () => {
    const secret = 'sk_live_4eC39HqLyjWDarjtT1zdp7dc';
    const s = buildScanner({ limits: limits({ maxFindings: 1 }) });
    const found = s.scan(`a ${secret} b`);
    assert.ok(!JSON.stringify(found).includes(secret) && !inspect(found).includes(secret));
    try {
      s.scan(`${secret} ${secret.replace('4', '5')}`);
      assert.fail('expected a limit error');
    } catch (e) {
      assert.ok(e instanceof ScanLimitError);
      assert.ok(!e.message.includes('sk_live') && !inspect(e).includes('sk_live'));
    }
  });
});
