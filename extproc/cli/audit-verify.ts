import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { snapshotEnv } from '../config/env.ts';
import { Secret } from '../core/secret.ts';
import { verifyAuditFiles, type VerifyReport } from '../telemetry/audit-chain.ts';

export const AUDIT_VERIFY_USAGE = `  audit verify [--json] [--allow-partial] [--key-file PATH | --key-env NAME] FILE...
                                Verify hash-chained audit files: report deleted, inserted, reordered or edited
                                records with file and line, and each replica's chain head. Exit 1 on any finding.`;

export interface AuditVerifyResult {
  /** 0 intact, 1 tampering (or unverifiable: HMAC records without the key). */
  readonly exitCode: 0 | 1;
  readonly output: string;
  readonly report: VerifyReport;
}

/**
 * `tollgate audit verify FILE...`. `args` are the arguments after "audit verify". Usage mistakes are
 * thrown through `usageError`, so the caller's usage handling (exit 2) applies. A missing or unreadable
 * file is an ordinary error (exit 1 in main.ts).
 */
export async function runAuditVerify(args: readonly string[], usageError: (message: string) => Error): Promise<AuditVerifyResult> {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...args], allowPositionals: true, strict: true,
      options: { json: { type: 'boolean' }, 'allow-partial': { type: 'boolean' }, 'key-file': { type: 'string' }, 'key-env': { type: 'string' } },
    });
  } catch (err) {
    throw usageError((err as Error).message);
  }
  const { values, positionals } = parsed;
  if (positionals.length === 0) throw usageError('audit verify needs at least one FILE');
  if (values['key-file'] !== undefined && values['key-env'] !== undefined) throw usageError('--key-file and --key-env are exclusive');
  let key: Secret | undefined;
  if (values['key-file'] !== undefined) key = new Secret(readFileSync(values['key-file'], 'utf8').trim());
  if (values['key-env'] !== undefined) {
    const v = snapshotEnv()[values['key-env']];
    if (v === undefined || v === '') throw usageError(`environment variable ${values['key-env']} is not set`);
    key = new Secret(v);
  }
  if (key?.length === 0) throw usageError('the audit chain key is empty');
  const report = await verifyAuditFiles(positionals, { ...(key === undefined ? {} : { key }), allowPartial: values['allow-partial'] === true });
  const output = values.json === true ? `${JSON.stringify(report, null, 2)}\n` : formatReport(report);
  return { exitCode: report.ok ? 0 : 1, output, report };
}

export function formatReport(r: VerifyReport): string {
  const lines = [`audit verify: ${r.files} file${r.files === 1 ? '' : 's'}, ${r.records} records: ${r.ok ? 'OK' : `TAMPERED (${r.issues.length} finding${r.issues.length === 1 ? '' : 's'})`}`];
  for (const i of r.issues) {
    const who = i.replica === null ? '' : ` replica ${i.replica}${i.seq === null ? '' : ` seq ${i.seq}`}:`;
    lines.push(`  ${i.file}:${i.line}  ${i.kind.padEnd(12)}${who} ${i.detail}`);
  }
  lines.push(r.heads.length === 0 ? 'no chained records' : 'chain heads:');
  for (const h of r.heads) lines.push(`  ${h.replica}  seq ${h.first_seq}..${h.last_seq} (${h.records} records)  ${h.last_hash}  at ${h.file}:${h.line}`);
  return `${lines.join('\n')}\n`;
}
