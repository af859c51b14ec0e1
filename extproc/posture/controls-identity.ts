// Controls on who calls, what credentials leave, and how they travel: identity, credentials, transport, Vault.
import { NOT_APPLICABLE, type Control, type Gap } from './control.ts';
import { at, bool, has, isLoopbackHost, list, str } from './read.ts';

const STATIC_SOURCES = new Set(['env', 'file']);
/** Sources whose credential is a long-lived key kept in Vault (central and rotatable, but not short-lived). */
const STORED_SOURCES = new Set(['vault-kv2', 'vault-azure-kv2']);
/** Sources with a path whose placeholders can separate identities and tenants. */
const PATH_SOURCES = new Set(['vault-kv2', 'vault-azure-kv2', 'vault-leased']);

interface ProviderView {
  readonly name: string;
  readonly source: string;
  readonly upstream: string;
  readonly path: string | undefined;
  readonly models: readonly string[];
}

function providers(cfg: unknown): ProviderView[] {
  return list(cfg, ['providers']).map((p, i) => ({
    name: str(p, ['name']) ?? `#${i}`,
    source: str(p, ['credential', 'source']) ?? 'unknown',
    upstream: str(p, ['upstream']) ?? '',
    path: str(p, ['credential', 'path']),
    models: list(p, ['models']).filter((m): m is string => typeof m === 'string'),
  }));
}

function upstreamHost(url: string): string | undefined {
  try {
    return new URL(url).hostname;
  } catch {
    return undefined;
  }
}

const hasStrongIdentity = (cfg: unknown): boolean => has(cfg, ['identity', 'jwt']) || has(cfg, ['identity', 'mtls']);

export const IDENTITY_CONTROLS: readonly Control[] = [
  {
    id: 'identity.workload-auth',
    title: 'Callers prove a workload identity, not only a static API key',
    refs: ['NHI4', 'NHI7', 'ZT-T6'],
    severity: 'high',
    field: 'identity.jwt',
    remediation: 'Configure identity.jwt.issuers (OIDC, Kubernetes or SPIFFE JWT-SVIDs) or identity.mtls.trustDomains, so callers present short-lived, verifiable credentials.',
    check: (cfg) =>
      hasStrongIdentity(cfg)
        ? []
        : [{ message: 'callers authenticate only with static Tollgate API keys (identities[].apiKeyHashes); no JWT or SPIFFE identity is configured' }],
  },
  {
    id: 'identity.api-keys-remaining',
    title: 'With workload identity configured, static API keys are retired',
    refs: ['NHI4', 'NHI7'],
    severity: 'low',
    field: 'identities[].apiKeyHashes',
    remediation: 'Move each identity to its JWT or SPIFFE identity and remove its apiKeyHashes.',
    check: (cfg) => {
      if (!hasStrongIdentity(cfg)) return NOT_APPLICABLE;
      const withKeys = list(cfg, ['identities']).filter((i) => list(i, ['apiKeyHashes']).length > 0).map((i) => str(i, ['id']) ?? '?');
      return withKeys.length === 0 ? [] : [{ message: `${withKeys.length} identities still accept a static API key: ${withKeys.slice(0, 10).join(', ')}${withKeys.length > 10 ? ', …' : ''}` }];
    },
  },
  {
    id: 'credentials.vault-issued',
    title: 'Provider credentials come from Vault, not from the environment or files',
    refs: ['NHI2', 'NHI7', 'ZT-T3'],
    severity: 'high',
    field: 'providers[].credential.source',
    remediation: 'Set providers[].credential.source to vault-leased, vault-aws or vault-gcp (short-lived), or at least vault-kv2 (central and rotatable), with the top-level vault section.',
    check: (cfg) =>
      providers(cfg)
        .filter((p) => STATIC_SOURCES.has(p.source))
        .map((p) => ({ message: `provider ${p.name}: a static key from ${p.source === 'env' ? 'an environment variable' : 'a file'} (credential.source: ${p.source})` })),
  },
  {
    id: 'credentials.short-lived',
    title: 'Vault-held provider keys are short-lived (leases or cloud tokens)',
    refs: ['NHI7', 'ZT-T3'],
    severity: 'medium',
    field: 'providers[].credential.source',
    remediation: 'Where the provider supports it, use vault-leased (a dynamic secrets engine), vault-aws (STS) or vault-gcp instead of a static key kept in KV.',
    check: (cfg) => {
      if (!providers(cfg).some((p) => p.source.startsWith('vault-'))) return NOT_APPLICABLE;
      return providers(cfg).filter((p) => STORED_SOURCES.has(p.source)).map((p) => ({ message: `provider ${p.name}: a long-lived key read from Vault KV (credential.source: ${p.source})` }));
    },
  },
  {
    id: 'credentials.per-identity',
    title: 'Each identity or tenant gets its own provider credential',
    refs: ['NHI8', 'NHI9', 'ZT-T3'],
    severity: 'low',
    field: 'providers[].credential.path',
    remediation: 'Put {tenant} or {identity} in the Vault path so usage at the provider is attributable and one revocation does not cut off everyone.',
    check: (cfg) => {
      const vaultPaths = providers(cfg).filter((p) => PATH_SOURCES.has(p.source) && p.path !== undefined);
      if (vaultPaths.length === 0) return NOT_APPLICABLE;
      return vaultPaths
        .filter((p) => p.path !== undefined && !/\{(tenant|identity)\}/.test(p.path))
        .map((p) => ({ message: `provider ${p.name}: every identity shares one credential (the Vault path has no {tenant} or {identity})` }));
    },
  },
  {
    id: 'transport.grpc-tls',
    title: 'The gRPC port is loopback-only or requires mutual TLS',
    refs: ['NHI4', 'ZT-T2', 'ZT-T6'],
    severity: 'high',
    field: 'server.grpc.tls',
    remediation: 'Set server.grpc.tls (certFile, keyFile, clientCaFile) so only Envoy\'s client certificate gets a handshake, or bind server.grpc.host to 127.0.0.1.',
    check: (cfg) => {
      const host = str(cfg, ['server', 'grpc', 'host']) ?? '127.0.0.1';
      if (isLoopbackHost(host) || has(cfg, ['server', 'grpc', 'tls'])) return [];
      return [{ message: `server.grpc.host is ${host} and the port is plaintext: anyone who reaches it can call Check as an API-key oracle, and injected credentials cross the hop in clear` }];
    },
  },
  {
    id: 'transport.grpc-peer-claims',
    title: 'Only Envoy, authenticated by its certificate, may report a caller\'s SPIFFE identity',
    refs: ['NHI4', 'NHI7', 'ZT-T6'],
    severity: 'critical',
    field: 'server.grpc.trustUnauthenticatedPeers',
    remediation: 'Set server.grpc.tls with allowedClients naming Envoy\'s certificate, and remove server.grpc.trustUnauthenticatedPeers.',
    check: (cfg) => {
      if (!has(cfg, ['identity', 'mtls'])) return NOT_APPLICABLE;
      if (bool(cfg, ['server', 'grpc', 'trustUnauthenticatedPeers']) === true)
        return [{ message: 'server.grpc.trustUnauthenticatedPeers is on: any client of the gRPC port can claim any SPIFFE identity in a Check and obtain its provider credential' }];
      if (has(cfg, ['server', 'grpc', 'tls', 'allowedClients'])) return [];
      return [{ message: 'identity.mtls is configured but server.grpc.tls.allowedClients is not: `serve` refuses to start, and SPIFFE identities in Check requests are ignored' }];
    },
  },
  {
    id: 'transport.upstream-tls',
    title: 'Credentials are sent to providers only over TLS',
    refs: ['NHI2', 'ZT-T2'],
    severity: 'critical',
    field: 'providers[].upstream',
    remediation: 'Use an https:// upstream for every provider that receives a credential (http:// is acceptable only on loopback).',
    check: (cfg) =>
      providers(cfg)
        .filter((p) => p.source !== 'none' && p.upstream.startsWith('http://'))
        .filter((p) => { const h = upstreamHost(p.upstream); return h === undefined || !isLoopbackHost(h); })
        .map((p) => ({ message: `provider ${p.name}: its credential goes to ${upstreamHost(p.upstream) ?? p.upstream} over plaintext http` })),
  },
  {
    id: 'vault.transport',
    title: 'Tollgate reaches Vault over verified TLS',
    refs: ['NHI2', 'ZT-T2'],
    severity: 'high',
    field: 'vault.address',
    remediation: 'Use an https:// vault.address and leave vault.tls.skipVerify false (set vault.tls.caFile for a private CA).',
    check: (cfg) => {
      if (!has(cfg, ['vault'])) return NOT_APPLICABLE;
      const gaps: Gap[] = [];
      const address = str(cfg, ['vault', 'address']);
      const host = address === undefined ? undefined : upstreamHost(address);
      if (address?.startsWith('http://') === true && (host === undefined || !isLoopbackHost(host)))
        gaps.push({ message: `vault.address ${host ?? address} is plaintext http: tokens and provider keys cross the network in clear` });
      if (bool(cfg, ['vault', 'tls', 'skipVerify']) === true)
        gaps.push({ message: 'vault.tls.skipVerify is true: any server can impersonate Vault', field: 'vault.tls.skipVerify' });
      return gaps;
    },
  },
  {
    id: 'vault.login',
    title: 'Tollgate logs in to Vault with a workload method, not a static token',
    refs: ['NHI7', 'NHI4'],
    severity: 'medium',
    field: 'vault.auth.method',
    remediation: 'Set vault.auth.method to kubernetes, jwt or approle (with a response-wrapped or short-TTL secret id) instead of token.',
    check: (cfg) => {
      if (!has(cfg, ['vault'])) return NOT_APPLICABLE;
      const method = str(cfg, ['vault', 'auth', 'method']) ?? 'token';
      return method === 'token' ? [{ message: 'vault.auth.method is token: a long-lived Vault token sits in a file or VAULT_TOKEN' }] : [];
    },
  },
  {
    id: 'offboarding.kill-switch',
    title: 'An identity can be revoked at once (kill switch)',
    refs: ['NHI1', 'ZT-T6'],
    severity: 'medium',
    field: 'server.admin.killSwitchToken',
    remediation: 'Set server.admin.killSwitchToken (env or file source) so an operator can revoke an identity and its leases without a redeploy, and state.backend: redis so the disabled set holds on every replica and across restarts.',
    check: (cfg) => {
      if (!has(cfg, ['server', 'admin', 'killSwitchToken'])) return [{ message: 'no kill switch: revoking an identity needs a config change and a reload' }];
      // The disabled set lives in the state store: in memory it is one process's, lost on a restart and
      // unknown to any other replica. Nothing in the config can prove a single replica, so memory is a gap.
      if (str(cfg, ['state', 'backend']) !== 'redis')
        return [{ message: 'the kill switch keeps its disabled set in this process (state.backend: memory): another replica does not see it and a restart re-enables every disabled identity', field: 'state.backend' }];
      return [];
    },
  },
  {
    id: 'inventory.ownership',
    title: 'Every identity and provider has an owner and a review date that has not passed',
    refs: ['NHI1', 'NHI3', 'NHI5', 'ZT-T5'],
    severity: 'low',
    field: 'identities[].owner',
    remediation: 'Give each identity and provider an owner (team, contact) and a reviewBy date (YYYY-MM-DD), and review it before that date.',
    check: (cfg, ctx) => {
      const gaps: Gap[] = [];
      for (const [section, key, noun] of [['identities', 'id', 'identity'], ['providers', 'name', 'provider']] as const) {
        const missingOwner: string[] = [];
        const missingReview: string[] = [];
        for (const entry of list(cfg, [section])) {
          const name = str(entry, [key]) ?? '?';
          if ((str(entry, ['owner', 'team']) ?? str(entry, ['owner']) ?? '').trim() === '') missingOwner.push(name);
          const reviewBy = at(entry, ['reviewBy']);
          const due = typeof reviewBy === 'string' ? Date.parse(reviewBy) : reviewBy instanceof Date ? reviewBy.getTime() : Number.NaN;
          if (reviewBy === undefined) missingReview.push(name);
          else if (Number.isNaN(due)) gaps.push({ message: `${noun} ${name}: reviewBy is not a date`, field: `${section}[].reviewBy`, severity: 'medium' });
          else if (due + 86_400_000 <= ctx.now.getTime()) gaps.push({ message: `${noun} ${name}: review was due ${new Date(due).toISOString().slice(0, 10)}`, field: `${section}[].reviewBy`, severity: 'high' });
        }
        const names = (ids: string[]): string => `${ids.slice(0, 10).join(', ')}${ids.length > 10 ? ', …' : ''}`;
        if (missingOwner.length > 0) gaps.push({ message: `${missingOwner.length} ${section} have no owner: ${names(missingOwner)}`, field: `${section}[].owner` });
        if (missingReview.length > 0) gaps.push({ message: `${missingReview.length} ${section} have no review date: ${names(missingReview)}`, field: `${section}[].reviewBy` });
      }
      return gaps;
    },
  },
  {
    id: 'agency.least-privilege',
    title: 'No identity may use every model of a provider that allows any model',
    refs: ['LLM06', 'NHI5', 'ZT-T3'],
    severity: 'medium',
    field: 'identities[].allow[].models',
    remediation: 'List the models each identity needs in identities[].allow[].models, and avoid "*" in providers[].models.',
    check: (cfg) => {
      const byName = new Map(providers(cfg).map((p) => [p.name, p]));
      const gaps: Gap[] = [];
      for (const ident of list(cfg, ['identities'])) {
        for (const a of list(ident, ['allow'])) {
          const p = byName.get(str(a, ['provider']) ?? '');
          if (p === undefined || !p.models.includes('*')) continue;
          const models = list(a, ['models']);
          if (models.length === 0 || models.includes('*'))
            gaps.push({ message: `identity ${str(ident, ['id']) ?? '?'} may use any model of provider ${p.name}` });
        }
      }
      return gaps;
    },
  },
];
