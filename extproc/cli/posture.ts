// `tollgate posture --config FILE [--json] [--fail-on SEVERITY]`: the configuration against OWASP NHI
// Top 10 (2025), OWASP LLM Top 10 2025 (LLM02, LLM06, LLM10) and NIST SP 800-207 tenets.
import { parseArgs } from 'node:util';
import { ConfigError, loadConfigFile } from '../config/load.ts';
import { assessPosture, formatPostureJson, formatPostureText } from '../posture/assess.ts';
import { SEVERITIES, type Severity } from '../posture/control.ts';

export const POSTURE_USAGE = `Usage: tollgate posture --config FILE [--json] [--fail-on low|medium|high|critical|never]
  Reports how the configuration stands against the OWASP Non-Human Identity Top 10 (2025), the OWASP
  Top 10 for LLM Applications 2025 (LLM02, LLM06, LLM10) and the NIST SP 800-207 tenets, naming the
  config field that closes each gap. Exit 0: no gap at or above --fail-on (default high); 1: some;
  2: usage error or invalid configuration.
`;

export interface PostureResult {
  readonly exitCode: number;
  readonly output: string;
}

const FAIL_ON: readonly (Severity | 'never')[] = [...SEVERITIES, 'never'];
const isFailOn = (v: string): v is Severity | 'never' => (FAIL_ON as readonly string[]).includes(v);

export function runPosture(args: string[], now: Date = new Date()): PostureResult {
  let values;
  try {
    ({ values } = parseArgs({
      args,
      options: { config: { type: 'string' }, json: { type: 'boolean', default: false }, 'fail-on': { type: 'string', default: 'high' }, help: { type: 'boolean', short: 'h', default: false } },
      strict: true,
      allowPositionals: false,
    }));
  } catch (err) {
    return { exitCode: 2, output: `tollgate posture: ${(err as Error).message}\n${POSTURE_USAGE}` };
  }
  if (values.help) return { exitCode: 0, output: POSTURE_USAGE };
  const failOn = values['fail-on'];
  if (!isFailOn(failOn)) return { exitCode: 2, output: `tollgate posture: --fail-on must be one of ${FAIL_ON.join(', ')}\n${POSTURE_USAGE}` };
  if (values.config === undefined) return { exitCode: 2, output: `tollgate posture: --config FILE is required\n${POSTURE_USAGE}` };
  let config;
  try {
    config = loadConfigFile(values.config);
  } catch (err) {
    if (err instanceof ConfigError) return { exitCode: 2, output: `tollgate posture: ${err.message}\n` };
    throw err;
  }
  const report = assessPosture(config, { source: values.config, failOn, now });
  return { exitCode: report.failed ? 1 : 0, output: values.json ? formatPostureJson(report) : formatPostureText(report) };
}
