// `tollgate scan`: run the service's detectors over text, a JSON body, or JSON lines, and print findings as
// JSON: detector id, type, offsets (JavaScript string indices) and, for JSON, the path of the string. Never
// the matched text. Security teams use it to try rules on their own data.
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { parse as parseYaml } from 'yaml';
import type { Finding, TextSegment } from '../core/content.ts';
import { dlpSchema, type DlpConfig } from '../config/dlp-schema.ts';
import { buildScanner } from '../detectors/registry.ts';
import { ScanLimitError } from '../detectors/scan-limits.ts';
import type { Scanner } from '../detectors/scanner.ts';
import { GENERIC_RULES } from '../providers/formats/bedrock.ts';
import { BODY_FORMATS, type BodyFormat } from '../providers/index.ts';
import { walkRequest } from '../providers/shared/request-walk.ts';
import { parseStrictJsonObject, type JsonValue } from '../providers/shared/strict-json.ts';
import { formatHandler } from '../providers/shared/translator.ts';

type RequestFormat = Exclude<BodyFormat, 'opaque'>;
const REQUEST_FORMATS = BODY_FORMATS.filter((f): f is RequestFormat => f !== 'opaque');

export const SCAN_USAGE = `Usage: tollgate scan [--jsonl | --json | --text | --format F] [--dlp FILE] [--phone] [--ip] [FILE | -]
  Reads FILE (or stdin) and prints findings as JSON; never the matched text.
  --text    treat the input as plain text
  --json    treat the input as a JSON body and scan every string value and key, as requests are scanned
            (findings carry the JSON path; "key": true for a key)
            (default: JSON when the input parses as an object or array, text otherwise)
  --format F  a request body of body format F (${REQUEST_FORMATS.join(', ')}): as --json, with the
            format's knowledge: "protected": true where a finding blocks instead of masking, the body's
            model left to the model rules, and the provider fetches and server tools the body asks for
  --jsonl   one {"id": ..., "text": "..."} per line in; one {"id": ..., "findings": [...]} per line out
  --dlp F   a YAML or JSON file holding a policy's dlp section (detectors, allowList, custom, limits)
  --phone   enable the phone-number detector (off by default)
  --ip      enable the IP-address detector (off by default)
`;

export class ScanUsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ScanUsageError';
  }
}

export interface ScanCliOptions {
  readonly mode: 'auto' | 'text' | 'json' | 'jsonl';
  /** With mode json: read the body as a request of this format. */
  readonly format?: RequestFormat;
  readonly dlp: DlpConfig;
}

interface OutFinding {
  detector: string;
  type: string;
  start: number;
  end: number;
  path?: (string | number)[];
  key?: true;
  protected?: true;
}


export function scannerFor(dlp: DlpConfig): Scanner {
  const d = dlp.detectors;
  return buildScanner({
    disable: d.disable,
    locales: d.locales,
    phone: d.phone,
    ip: d.ip,
    allowList: dlp.allowList,
    custom: dlp.custom,
    limits: dlp.limits,
  });
}

const plain = (f: Finding): OutFinding => ({ detector: f.detector, type: f.type, start: f.start, end: f.end });

/** Every string value and key of a JSON document as a segment (generic: nothing protected). */
export function jsonStringSegments(raw: string): TextSegment[] {
  const doc = JSON.parse(raw) as JsonValue;
  if (typeof doc !== 'object' || doc === null) return typeof doc === 'string' && doc !== '' ? [{ path: [], text: doc, role: 'other' }] : [];
  if (!Array.isArray(doc)) return walkRequest(doc, GENERIC_RULES, false).segments;
  // The walk starts at an object: an array body is walked as the one member of a wrapper, then unwrapped.
  return walkRequest({ a: doc }, GENERIC_RULES, false).segments.filter((s) => s.path.length > 1).map((s) => ({ ...s, path: s.path.slice(1) }));
}

function scanJson(scanner: Scanner, raw: string, format: RequestFormat | undefined): string {
  let segs: TextSegment[];
  let extra = {};
  const handler = format === undefined ? undefined : formatHandler(format);
  if (handler === undefined) segs = jsonStringSegments(raw);
  else {
    let doc;
    try {
      doc = parseStrictJsonObject(raw);
    } catch (err) {
      throw new ScanUsageError(`--format ${format ?? ''}: ${err instanceof Error ? err.message : String(err)}`);
    }
    const content = walkRequest(doc, handler.requestRules(doc), handler.bodyModel);
    segs = content.segments;
    extra = { fetches: content.fetches, serverTools: content.tools };
  }
  const found = scanner.scanSegments(segs).map((f) => {
    const seg = segs[f.segment ?? 0];
    return { ...plain(f), path: [...(seg?.path ?? [])], ...(seg?.key === true ? { key: true } : {}), ...(seg?.protected === true && seg.key !== true ? { protected: true } : {}), ...(seg?.inline === undefined ? {} : { media: seg.inline.mediaType }) };
  });
  return JSON.stringify({ mode: 'json', ...(format === undefined ? {} : { format }), count: found.length, findings: found, ...extra });
}

function scanJsonl(scanner: Scanner, input: string): string {
  const out: string[] = [];
  input.split('\n').forEach((line, k) => {
    if (line.trim() === '') return;
    let rec: unknown;
    try {
      rec = JSON.parse(line);
    } catch {
      out.push(JSON.stringify({ line: k + 1, error: 'invalid JSON' }));
      return;
    }
    const obj = typeof rec === 'object' && rec !== null ? (rec as Record<string, unknown>) : {};
    const id = obj['id'] ?? null;
    if (typeof obj['text'] !== 'string') {
      out.push(JSON.stringify({ id, line: k + 1, error: 'missing "text" string' }));
      return;
    }
    try {
      out.push(JSON.stringify({ id, findings: scanner.scan(obj['text']).map(plain) }));
    } catch (err) {
      if (!(err instanceof ScanLimitError)) throw err;
      out.push(JSON.stringify({ id, error: `scan_limit_exceeded: ${err.limit}` }));
    }
  });
  return out.length === 0 ? '' : `${out.join('\n')}\n`;
}

/** The pure core: options and input in, output text out. Throws ScanLimitError (not for --jsonl). */
export function runScan(options: ScanCliOptions, input: string, scanner: Scanner = scannerFor(options.dlp)): string {
  if (options.mode === 'jsonl') return scanJsonl(scanner, input);
  let mode = options.mode;
  if (mode === 'auto') {
    const t = input.trimStart();
    mode = 'text';
    if (t.startsWith('{') || t.startsWith('[')) {
      try {
        JSON.parse(input);
        mode = 'json';
      } catch {
        mode = 'text';
      }
    }
  }
  if (mode === 'json') {
    try {
      JSON.parse(input);
    } catch {
      throw new ScanUsageError('--json: the input is not valid JSON');
    }
    return `${scanJson(scanner, input, options.format)}\n`;
  }
  const found = scanner.scan(input).map(plain);
  return `${JSON.stringify({ mode: 'text', count: found.length, findings: found })}\n`;
}

export function parseScanArgs(args: readonly string[]): { options: ScanCliOptions; file: string | undefined } {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...args],
      options: { jsonl: { type: 'boolean' }, json: { type: 'boolean' }, text: { type: 'boolean' }, format: { type: 'string' }, dlp: { type: 'string' }, phone: { type: 'boolean' }, ip: { type: 'boolean' } },
      strict: true,
      allowPositionals: true,
    });
  } catch (err) {
    throw new ScanUsageError(err instanceof Error ? err.message : String(err));
  }
  const v = parsed.values;
  const format = v.format;
  if (format !== undefined && !REQUEST_FORMATS.includes(format as RequestFormat)) throw new ScanUsageError(`--format must be one of ${REQUEST_FORMATS.join(', ')}`);
  const modes = [v.jsonl === true ? 'jsonl' : undefined, v.json === true || format !== undefined ? 'json' : undefined, v.text === true ? 'text' : undefined].filter((m) => m !== undefined);
  if (modes.length > 1 || (v.json === true && format !== undefined)) throw new ScanUsageError('choose one of --jsonl, --json, --text, --format');
  if (parsed.positionals.length > 1) throw new ScanUsageError('at most one input FILE');
  let raw: unknown = {};
  if (v.dlp !== undefined) {
    try {
      raw = parseYaml(readFileSync(v.dlp, 'utf8')) ?? {};
    } catch (err) {
      throw new ScanUsageError(`--dlp ${v.dlp}: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
  const res = dlpSchema.safeParse(raw);
  if (!res.success) throw new ScanUsageError(`--dlp ${v.dlp ?? ''}: ${res.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  const dlp: DlpConfig = {
    ...res.data,
    detectors: {
      ...res.data.detectors,
      phone: v.phone === true ? { ...res.data.detectors.phone, enabled: true } : res.data.detectors.phone,
      ip: v.ip === true ? { ...res.data.detectors.ip, enabled: true } : res.data.detectors.ip,
    },
  };
  const file = parsed.positionals[0];
  const mode = (modes[0] ?? 'auto') as ScanCliOptions['mode'];
  return { options: { mode, dlp, ...(format === undefined ? {} : { format: format as RequestFormat }) }, file: file === '-' ? undefined : file };
}

/** `tollgate scan ARGS`: reads FILE or stdin (via readStdin) and returns the output text. */
export async function scanCommand(args: readonly string[], readStdin: () => Promise<string>): Promise<string> {
  const { options, file } = parseScanArgs(args);
  let input: string;
  if (file === undefined) input = await readStdin();
  else {
    try {
      input = readFileSync(file, 'utf8');
    } catch (err) {
      throw new ScanUsageError(`cannot read ${file}: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
  return runScan(options, input);
}
