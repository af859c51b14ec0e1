// `tollgate scan` core: text, JSON bodies (findings with JSON paths), JSONL (offsets as JS string indices into
// each text), --dlp files, usage errors; and no matched value in any output.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { scanCommand, ScanUsageError } from '../../extproc/cli/scan.ts';

const dir = mkdtempSync(join(tmpdir(), 'tollgate-scan-'));
after(() => {
  rmSync(dir, { recursive: true, force: true });
});
const stdin = (s: string) => (): Promise<string> => Promise.resolve(s);
const SECRET = 'sk_live_4eC39HqLyjWDarjtT1zdp7dc';

interface Out {
  mode: string;
  count: number;
  findings: { detector: string; type: string; start: number; end: number; path?: (string | number)[] }[];
}

describe('tollgate scan', () => {
  it('text from stdin: detector, type and offsets, never the text', async () => {
    const text = `Mail ana@example.com, key ${SECRET}\n`;
    const raw = await scanCommand([], stdin(text));
    const out = JSON.parse(raw) as Out;
    assert.equal(out.mode, 'text');
    assert.deepEqual(out.findings.map((f) => [f.detector, f.type, text.slice(f.start, f.end)]), [
      ['pii.email', 'EMAIL', 'ana@example.com'],
      ['secret.stripe_live_key', 'STRIPE_KEY', SECRET],
    ]);
    assert.ok(!raw.includes(SECRET) && !raw.includes('ana@example.com'));
  });

  it('a provider JSON body from a file: every string value, with its JSON path and offsets into it', async () => {
    const body = { model: 'gpt', messages: [{ role: 'user', content: 'hi' }, { role: 'tool', content: `result: ${SECRET}` }] };
    const file = join(dir, 'body.json');
    writeFileSync(file, JSON.stringify(body, null, 2));
    const out = JSON.parse(await scanCommand([file], stdin(''))) as Out;
    assert.equal(out.mode, 'json');
    assert.deepEqual(out.findings, [{ detector: 'secret.stripe_live_key', type: 'STRIPE_KEY', start: 8, end: 8 + SECRET.length, path: ['messages', 1, 'content'] }]);
  });

  it('a JSON body: object keys are scanned too (marked "key": true), as requests are', async () => {
    const body = { tools: [{ input_schema: { properties: { [`use ${SECRET}`]: { type: 'string' } } } }] };
    const out = JSON.parse(await scanCommand(['--json'], stdin(JSON.stringify(body)))) as Out;
    assert.deepEqual(out.findings, [{ detector: 'secret.stripe_live_key', type: 'STRIPE_KEY', start: 4, end: 4 + SECRET.length, path: ['tools', 0, 'input_schema', 'properties', `use ${SECRET}`], key: true }]);
  });

  it('--format: the format\'s knowledge (Gemini proto names, protected fields, provider fetches and server tools)', async () => {
    const body = {
      system_instruction: { parts: [{ text: `key ${SECRET}` }] },
      contents: [{ role: 'model', parts: [{ text: 'ok', thought_signature: SECRET }, { file_data: { file_uri: 'https://files.example/a.pdf' } }] }],
      tools: [{ google_search: {} }, { code_execution: {} }],
    };
    const raw = await scanCommand(['--format', 'gemini'], stdin(JSON.stringify(body)));
    const out = JSON.parse(raw) as Out & { format: string; fetches: number; serverTools: string[] };
    assert.equal(out.format, 'gemini');
    assert.deepEqual(out.findings.map((f) => [f.path, (f as { protected?: boolean }).protected ?? false]), [
      [['system_instruction', 'parts', 0, 'text'], false],
      [['contents', 0, 'parts', 0, 'thought_signature'], true],
    ]);
    assert.equal(out.fetches, 1);
    assert.deepEqual(out.serverTools, ['web_search', 'code_execution']);
    assert.ok(!raw.includes(SECRET));
    await assert.rejects(scanCommand(['--format', 'nope'], stdin('{}')), (e: unknown) => e instanceof ScanUsageError && /--format must be one of/.test(e.message));
  });

  it('--format: a text file sent as inline base64 is decoded; its finding says "media" and has offsets into the decoded text', async () => {
    const text = `# notes\nSTRIPE=${SECRET}\n`;
    const body = { contents: [{ role: 'user', parts: [{ inline_data: { mime_type: 'text/plain', data: Buffer.from(text).toString('base64') } }, { inlineData: { mimeType: 'image/png', data: Buffer.from(text).toString('base64') } }] }] };
    const out = JSON.parse(await scanCommand(['--format', 'gemini'], stdin(JSON.stringify(body)))) as Out;
    const start = text.indexOf(SECRET);
    assert.deepEqual(out.findings, [{ detector: 'secret.stripe_live_key', type: 'STRIPE_KEY', start, end: start + SECRET.length, path: ['contents', 0, 'parts', 0, 'inline_data', 'data'], media: 'text/plain' }]);
  });

  it('--text scans JSON input as plain text', async () => {
    const input = JSON.stringify({ t: 'a@b.org' });
    const out = JSON.parse(await scanCommand(['--text'], stdin(input))) as Out;
    assert.equal(out.mode, 'text');
    assert.equal(input.slice(out.findings[0]!.start, out.findings[0]!.end), 'a@b.org');
  });

  it('--jsonl: one line out per line in, offsets as JavaScript string indices (astral characters count two)', async () => {
    const lines = [
      { id: 1, text: '😀😀 write to ana@example.com' },
      { id: 'b', text: 'nothing here' },
      { id: null, text: `é ${SECRET}` },
    ];
    const raw = await scanCommand(['--jsonl'], stdin(`${lines.map((l) => JSON.stringify(l)).join('\n')}\n\nnot json\n{"id":7}\n`));
    const out = raw.trimEnd().split('\n').map((l) => JSON.parse(l) as { id: unknown; findings?: { type: string; start: number; end: number }[]; error?: string });
    assert.equal(out.length, 5);
    assert.deepEqual(out[0]?.findings?.map((f) => lines[0]!.text.slice(f.start, f.end)), ['ana@example.com']);
    assert.equal(out[0].findings[0]?.start, 14);
    assert.deepEqual(out[1], { id: 'b', findings: [] });
    assert.deepEqual(out[2]?.findings?.map((f) => [f.type, f.start, f.end]), [['STRIPE_KEY', 2, 2 + SECRET.length]]);
    assert.equal(out[3]?.error, 'invalid JSON');
    assert.deepEqual(out[4], { id: 7, line: 6, error: 'missing "text" string' });
    assert.ok(!raw.includes(SECRET));
  });

  it('--jsonl reports a cap per line instead of failing the run', async () => {
    const file = join(dir, 'tight.yaml');
    writeFileSync(file, 'limits:\n  maxFindings: 1\n');
    const raw = await scanCommand(['--jsonl', '--dlp', file], stdin(`${JSON.stringify({ id: 1, text: 'a@b.org c@d.org' })}\n${JSON.stringify({ id: 2, text: 'a@b.org' })}\n`));
    assert.deepEqual(raw.trimEnd().split('\n').map((l) => JSON.parse(l) as unknown), [
      { id: 1, error: 'scan_limit_exceeded: findings' },
      { id: 2, findings: [{ detector: 'pii.email', type: 'EMAIL', start: 0, end: 7 }] },
    ]);
  });

  it('--dlp applies detector options, allow-list and custom detectors; --phone and --ip opt in', async () => {
    const file = join(dir, 'dlp.yaml');
    writeFileSync(file, ['detectors:', '  disable: [pii.email]', 'allowList: [AKIA4Q3EGRIVYW6TQSPW]', 'custom:', '  - id: custom.ticket', '    type: TICKET', '    pattern: "TCK-[0-9]+"', '    minLength: 8'].join('\n'));
    const text = 'a@b.org AKIA4Q3EGRIVYW6TQSPW TCK-123456 call me on +1 415 555 2671';
    const out = JSON.parse(await scanCommand(['--dlp', file, '--phone'], stdin(text))) as Out;
    assert.deepEqual(out.findings.map((f) => f.type), ['TICKET', 'PHONE_NUMBER']);
  });

  it('usage errors: unknown flags, two modes, invalid --dlp (with the field), unreadable file, --json on non-JSON', async () => {
    const bad = join(dir, 'bad.yaml');
    writeFileSync(bad, 'custom:\n  - id: custom.x\n    type: X\n    pattern: "(a)\\\\1"\n');
    const cases: [string[], RegExp][] = [
      [['--nope'], /nope/],
      [['--json', '--jsonl'], /choose one/],
      [['--dlp', bad], /custom\.0\.pattern: custom detector "custom\.x": pattern refused/],
      [[join(dir, 'missing.txt')], /cannot read/],
      [['--json'], /not valid JSON/],
    ];
    for (const [args, re] of cases) await assert.rejects(scanCommand(args, stdin('plain text')), (e: unknown) => e instanceof ScanUsageError && re.test(e.message), args.join(' '));
  });
});
