// Planted values never leave the per-request state: every result, error and printable form of the scanner,
// masking, restore and stream APIs is rendered (JSON, util.inspect, String) and searched for the values.
import assert from 'node:assert/strict';
import { inspect } from 'node:util';
import { describe, it } from 'node:test';
import type { TextSegment } from '../../extproc/core/content.ts';
import { buildScanner } from '../../extproc/detectors/registry.ts';
import { DEFAULT_SCAN_LIMITS } from '../../extproc/detectors/scan-limits.ts';
import { decideDlp } from '../../extproc/detectors/dlp-actions.ts';
import { maskBody } from '../../extproc/redactors/mask.ts';
import { restoreJson } from '../../extproc/redactors/restore.ts';
import { SseStream } from '../../extproc/redactors/sse-stream.ts';

const PLANTED = ['sk_live_4eC39HqLyjWDarjtT1zdp7dc', 'planted.person@example.com', '4242 4242 4242 4242', 'AKIA4Q3EGRIVYW6TQSPW', 'DE89 3704 0044 0532 0130 00'];

function renderings(v: unknown): string[] {
  let json: string | undefined;
  try {
    json = JSON.stringify(v);
  } catch {
    json = undefined;
  }
  return [json ?? '', inspect(v, { depth: 10, showHidden: true }), String(v)];
}

function assertClean(label: string, v: unknown): void {
  for (const r of renderings(v)) for (const p of PLANTED) assert.ok(!r.includes(p), `${label} contains a planted value`);
}

describe('no planted value escapes', () => {
  it('scan, mask, decide, restore, stream and errors', () => {
    const text = `Customer ${PLANTED[1]} card ${PLANTED[2]} iban ${PLANTED[4]} key ${PLANTED[0]} id ${PLANTED[3]}`;
    const body = JSON.stringify({ model: 'm', messages: [{ role: 'user', content: text }] });
    const segs: TextSegment[] = [{ path: ['messages', 0, 'content'], text, role: 'user' }];
    const scanner = buildScanner();
    const findings = scanner.scanSegments(segs);
    assert.equal(findings.length, 5);
    assertClean('findings', findings);
    const decision = decideDlp([{ detectors: ['*'], action: 'mask', restore: true }], findings, { tenant: 't', identity: 'i', provider: 'p' });
    assertClean('decision', decision);
    const masked = maskBody(body, segs, decision.mask);
    assertClean('masked body', masked.body.toString());
    assertClean('mask result', { ...masked, body: undefined });
    assertClean('restore map', masked.restore);
    const restored = restoreJson(JSON.stringify({ choices: [{ message: { content: 'ok <EMAIL_1>' } }] }), masked.restore);
    assertClean('restore counts', { restored: restored.restored, unknown: restored.unknown });
    assert.ok(restored.body.toString().includes(PLANTED[1]!), 'the caller does get the value back');

    const stream = new SseStream({ scanner, restore: masked.restore });
    const r = stream.push(Buffer.from(`data: ${JSON.stringify({ choices: [{ index: 0, delta: { content: `leak ${PLANTED[0]} now` }, finish_reason: null }] })}\n\n`), true);
    assertClean('stream result (findings)', r.findings);
    assertClean('stream output', r.output.toString());
    assertClean('stream object', stream);

    const tight = buildScanner({ limits: { ...DEFAULT_SCAN_LIMITS, maxFindings: 1 } });
    for (const run of [() => tight.scan(text), () => maskBody(body, [{ ...segs[0]!, text: `${text}x` }], findings)]) {
      try {
        run();
        assert.fail('expected an error');
      } catch (e) {
        assertClean('error', e);
        assertClean('error message', (e as Error).message);
        assertClean('error stack', (e as Error).stack);
      }
    }
  });
});
