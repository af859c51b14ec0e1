// Controls on what leaves and how much: DLP, audit, budgets and limits, shared state.
import { NOT_APPLICABLE, type Control, type Gap } from './control.ts';
import { at, bool, has, isLoopbackHost, list, str } from './read.ts';

/** dlp.enabled defaults to true when the section is present. */
const dlpOn = (cfg: unknown): boolean => has(cfg, ['dlp']) && bool(cfg, ['dlp', 'enabled']) !== false;

const SECRET_SELECTORS = (d: string): boolean => d === '*' || d === 'secret.*' || d.startsWith('secret.');

const limitsConfigured = (cfg: unknown): boolean => list(cfg, ['budgets']).length > 0 || list(cfg, ['rateLimits']).length > 0;

export const CONTENT_CONTROLS: readonly Control[] = [
  {
    id: 'dlp.request',
    title: 'Prompts are scanned for secrets and personal data before they leave',
    refs: ['LLM02', 'NHI2', 'ZT-T4'],
    severity: 'high',
    field: 'dlp',
    remediation: 'Add the dlp section (enabled: true): secrets are blocked and PII masked by default.',
    check: (cfg) => {
      if (!has(cfg, ['dlp'])) return [{ message: 'no dlp section: prompts leave unscanned' }];
      return dlpOn(cfg) ? [] : [{ message: 'dlp.enabled is false: prompts leave unscanned', field: 'dlp.enabled' }];
    },
  },
  {
    id: 'dlp.response',
    title: 'Responses are scanned for leaked secrets',
    refs: ['LLM02', 'LLM05', 'NHI2'],
    severity: 'medium',
    field: 'dlp.response.scan',
    remediation: 'Enable the dlp section and leave dlp.response.scan true (the default).',
    check: (cfg) => {
      if (!dlpOn(cfg)) return [{ message: 'responses are not scanned (no enabled dlp section)', field: 'dlp' }];
      return bool(cfg, ['dlp', 'response', 'scan']) === false ? [{ message: 'dlp.response.scan is false' }] : [];
    },
  },
  {
    id: 'dlp.secrets-blocked',
    title: 'No rule lets detected secrets through for everyone',
    refs: ['NHI2', 'LLM02'],
    severity: 'high',
    field: 'dlp.actions',
    remediation: 'Remove dlp.actions rules with action allow for secret detectors, or scope them with when: to the identities that need them.',
    check: (cfg) => {
      if (!dlpOn(cfg)) return NOT_APPLICABLE;
      const gaps: Gap[] = [];
      list(cfg, ['dlp', 'actions']).forEach((rule, i) => {
        const detectors = list(rule, ['detectors']).filter((d): d is string => typeof d === 'string');
        if (str(rule, ['action']) === 'allow' && at(rule, ['when']) === undefined && detectors.some(SECRET_SELECTORS))
          gaps.push({ message: `dlp.actions[${i}] allows ${detectors.filter(SECRET_SELECTORS).join(', ')} for every caller`, field: `dlp.actions[${i}]` });
      });
      const disabled = list(cfg, ['dlp', 'detectors', 'disable']).filter((d): d is string => typeof d === 'string' && d.startsWith('secret.'));
      if (disabled.length > 0) gaps.push({ message: `secret detectors turned off: ${disabled.join(', ')}`, field: 'dlp.detectors.disable', severity: 'medium' });
      return gaps;
    },
  },
  {
    id: 'dlp.provider-side',
    title: 'Requests cannot make the provider fetch URLs or run server-side tools',
    refs: ['LLM02', 'LLM06', 'ZT-T4'],
    severity: 'medium',
    field: 'dlp.allowServerTools',
    remediation: 'Leave dlp.allowProviderFetch false and dlp.allowServerTools empty (the defaults), or list only the tools a reviewed workload needs.',
    check: (cfg) => {
      if (!dlpOn(cfg)) return [{ message: 'dlp is off: provider-side URL fetches and server tools are not refused', field: 'dlp' }];
      const gaps: Gap[] = [];
      if (bool(cfg, ['dlp', 'allowProviderFetch']) === true) gaps.push({ message: 'dlp.allowProviderFetch is true: providers may fetch caller-named URLs that Tollgate never scans', field: 'dlp.allowProviderFetch' });
      const tools = list(cfg, ['dlp', 'allowServerTools']).filter((t): t is string => typeof t === 'string');
      if (tools.length > 0) {
        const wide = tools.some((t) => t === 'mcp' || t === 'other');
        gaps.push({ message: `server-side tools allowed: ${tools.join(', ')}`, ...(wide ? { severity: 'high' as const } : {}) });
      }
      return gaps;
    },
  },
  {
    id: 'audit.chain',
    title: 'Audit records are hash-chained (tamper-evident)',
    refs: ['ZT-T7', 'NHI9'],
    severity: 'medium',
    field: 'audit.chain.enabled',
    remediation: 'Set audit.chain.enabled: true (and check files with `tollgate audit verify`).',
    check: (cfg) => (bool(cfg, ['audit', 'chain', 'enabled']) === true ? [] : [{ message: 'audit records are not chained: an edited or deleted record goes unnoticed' }]),
  },
  {
    id: 'audit.chain-keyed',
    title: 'The audit chain is keyed, so whoever can rewrite the file cannot recompute it',
    refs: ['ZT-T7'],
    severity: 'low',
    field: 'audit.chain.algorithm',
    remediation: 'Set audit.chain.algorithm: hmac-sha256 with audit.chain.key from a file or environment variable held outside the audit host.',
    check: (cfg) => {
      if (bool(cfg, ['audit', 'chain', 'enabled']) !== true) return NOT_APPLICABLE;
      return str(cfg, ['audit', 'chain', 'algorithm']) === 'hmac-sha256' ? [] : [{ message: 'the chain is a plain sha256 chain: someone who can rewrite the whole file can rebuild it' }];
    },
  },
  {
    id: 'consumption.budgets',
    title: 'Token or cost budgets bound what an identity can spend',
    refs: ['LLM10', 'ZT-T4'],
    severity: 'high',
    field: 'budgets',
    remediation: 'Add budgets (per identity, tenant or group; tokens or cost with a prices catalog) over a window such as 1d.',
    check: (cfg) => (list(cfg, ['budgets']).length > 0 ? [] : [{ message: 'no budgets: a leaked key or a looping agent can spend without bound' }]),
  },
  {
    id: 'consumption.rate-limits',
    title: 'Request or token rate limits per identity',
    refs: ['LLM10'],
    severity: 'medium',
    field: 'rateLimits',
    remediation: 'Add rateLimits per identity over short windows (requests and tokens per minute).',
    check: (cfg) => (list(cfg, ['rateLimits']).length > 0 ? [] : [{ message: 'no rate limits: bursts are bounded only by the provider' }]),
  },
  {
    id: 'consumption.anomaly',
    title: 'Egress anomalies (spikes, bursts, new providers) are flagged',
    refs: ['NHI10', 'LLM10', 'ZT-T7'],
    severity: 'low',
    field: 'anomaly.enabled',
    remediation: 'Set anomaly.enabled: true; list flags in anomaly.deny to refuse instead of only recording them.',
    check: (cfg) => (bool(cfg, ['anomaly', 'enabled']) === true ? [] : [{ message: 'anomaly baselines are off: a sudden change in an identity\'s egress is not flagged' }]),
  },
  {
    id: 'state.fail-closed',
    title: 'Limits fail closed when the state store is unavailable',
    refs: ['LLM10', 'ZT-T6'],
    severity: 'high',
    field: 'state.onError',
    remediation: 'Leave state.onError and every onStateError at deny (the default).',
    check: (cfg) => {
      const gaps: Gap[] = [];
      if (str(cfg, ['state', 'onError']) === 'allow') gaps.push({ message: 'state.onError is allow: when the store is down, budgets, limits and replay protection stop holding' });
      for (const section of ['budgets', 'rateLimits'] as const) {
        list(cfg, [section]).forEach((b, i) => {
          if (str(b, ['onStateError']) === 'allow') gaps.push({ message: `${section}[${i}] (${str(b, ['name']) ?? '?'}) is allowed through when the store fails`, field: `${section}[${i}].onStateError` });
        });
      }
      if (str(cfg, ['anomaly', 'onStateError']) === 'allow' && list(cfg, ['anomaly', 'deny']).length > 0)
        gaps.push({ message: 'anomaly.onStateError is allow: denying flags are skipped when the store fails', field: 'anomaly.onStateError', severity: 'medium' });
      return gaps;
    },
  },
  {
    id: 'state.shared',
    title: 'Limits and replay protection hold across replicas (shared state store)',
    refs: ['LLM10', 'ZT-T6'],
    severity: 'medium',
    field: 'state.backend',
    remediation: 'Set state.backend: redis when more than one replica runs; otherwise each replica enforces its own copy of every limit.',
    check: (cfg) => {
      if ((str(cfg, ['state', 'backend']) ?? 'memory') !== 'memory') return [];
      return limitsConfigured(cfg)
        ? [{ message: 'state is in memory: with N replicas, each budget and rate limit allows N times its value' }]
        : [{ message: 'state is in memory: replay protection of the ext_authz context is per replica', severity: 'low' }];
    },
  },
  {
    id: 'state.transport',
    title: 'The Redis connection is encrypted or local',
    refs: ['ZT-T2'],
    severity: 'medium',
    field: 'state.tls',
    remediation: 'Use a rediss:// URL or state.tls for a Redis that is not on loopback, and a password source.',
    check: (cfg) => {
      if (str(cfg, ['state', 'backend']) !== 'redis') return NOT_APPLICABLE;
      const url = str(cfg, ['state', 'url']);
      let host = str(cfg, ['state', 'host']);
      let tls = has(cfg, ['state', 'tls']);
      if (url !== undefined) {
        try {
          const u = new URL(url);
          host = u.hostname;
          tls ||= u.protocol === 'rediss:';
        } catch {
          return [{ message: 'state.url is not a URL', field: 'state.url' }];
        }
      }
      const gaps: Gap[] = [];
      const local = host !== undefined && isLoopbackHost(host);
      if (!tls && !local) gaps.push({ message: `Redis at ${host ?? '?'} is plaintext: counters and replay claims can be read or forged on the network` });
      if (!has(cfg, ['state', 'password']) && !local) gaps.push({ message: `Redis at ${host ?? '?'} is used without a password`, field: 'state.password', severity: 'low' });
      return gaps;
    },
  },
];
