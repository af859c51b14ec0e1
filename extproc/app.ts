import { createCheckHandler } from './authz/check-handler.ts';
import { apiKeyLookup } from './identity/api-key.ts';
import { isIP } from 'node:net';
import type { Env } from './config/env.ts';
import { ConfigError } from './config/load.ts';
import { loadServiceMaterial, readConfigFile, readSecretSource, stateStoreSecrets } from './service-material.ts';
import type { Config } from './config/schema.ts';
import { createAuthzContextCodec } from './core/authz-context.ts';
import { createCredentialBroker, type RefreshSummary } from './credentials/broker.ts';
import { conditionOf, credentialObservers } from './credentials/lifecycle-log.ts';
import { backoffDelay } from './credentials/timing.ts';
import { buildIdentityRuntime } from './identity/build.ts';
import { compilePolicy, type Policy } from './policy/policy.ts';
import { createProcessHandler, type ProcessCall } from './processing/stream-handler.ts';
import { startAdminServer, type AdminServer } from './server/admin-http.ts';
import { startGrpcServer, type GrpcServer } from './server/grpc-server.ts';
import { killSwitchAuditRecord } from './server/kill-switch-http.ts';
import { bodyHmacFrom, type Services } from './services.ts';
import { createStateStore } from './state/create-store.ts';
import { buildUsageGuards } from './state/guards.ts';
import { createKillSwitchState, KILL_SWITCH_OFF } from './state/kill-switch.ts';
import type { StateStore } from './state/state-store.ts';
import { AuditChain, ChainedAuditSink, RotatingAuditFile } from './telemetry/audit-chain.ts';
import { hostname } from 'node:os';
import { createAuditSink, type AuditSink } from './telemetry/audit.ts';
import { createLogger, type Logger } from './telemetry/logger.ts';
import { createMetrics, stateObserver, type Metrics } from './telemetry/metrics.ts';
import { initTracing, type TracingHandle } from './telemetry/tracing.ts';

/** Room for headers, metadata and framing on top of the largest body a gRPC message carries. */
const GRPC_MESSAGE_HEADROOM_BYTES = 256 * 1024;

export interface AppOptions {
  readonly env: Env;
  readonly logger?: Logger;
  readonly audit?: AuditSink;
}

export interface Listening {
  readonly grpc: { readonly host: string; readonly port: number };
  readonly admin: { readonly host: string; readonly port: number };
}

export interface App {
  readonly services: Services;
  readonly logger: Logger;
  readonly metrics: Metrics;
  /** The policy in force now. */
  policy(): Policy;
  /**
   * Compiles the policy half of `next` and swaps it in atomically; requests in flight finish on the
   * revision they started with. An invalid policy throws and the old one stays. Settings that live for
   * the process (server, vault, identity verification, audit, logging) are not reloaded: their change is
   * reported in `needsRestart`.
   */
  reload(next: Config): { readonly revision: string; readonly needsRestart: readonly string[] };
  /**
   * A forced credential refresh (SIGHUP, the admin call): re-reads vault.auth.tokenFile, then every
   * cached credential; what cannot be re-read keeps serving. Never touches the policy.
   */
  refreshCredentials(trigger: string): Promise<RefreshSummary>;
  /**
   * Listens. With Vault down at start and vault.onStartFailure "retry", resolves not ready and keeps
   * logging in with backoff (`notReadyReason()` says why); with "exit" it rejects with the cause.
   */
  start(): Promise<Listening>;
  /** Why the process is not ready, or undefined when it is (or has not started). */
  notReadyReason(): string | undefined;
  /** Resolves when the process becomes ready. */
  whenReady(): Promise<void>;
  /** Graceful stop: NOT_SERVING, drain, shut down with a deadline, flush audit. Idempotent. */
  stop(options?: { drainMs?: number }): Promise<void>;
}

/** Shared state: in memory (one replica) or Redis (several), with its secrets read at start. */
function stateStoreFor(config: Config, env: Env, logger: Logger, metrics: Metrics): StateStore {
  const cfg = config.state;
  if (cfg.backend === 'memory') return createStateStore(cfg);
  return createStateStore(cfg, {
    observer: stateObserver(metrics),
    ...stateStoreSecrets(cfg, env),
    // One line each way with its cause (the messages name host and port, never the password).
    onConnectionChange: (c) => {
      if (c.event === 'lost') logger.error({ cause: c.cause, ever_connected: c.everConnected }, 'redis connection lost; shared-state calls fail until it is back');
      else logger.info({ down_ms: c.downMs, errors: c.errors, last_error: c.lastError }, 'redis connection back');
    },
  });
}

/**
 * The audit sink: JSON lines to stdout or a file; with audit.chain on, every record is hash-chained
 * (a file sink rotates by size and resumes its chain after a restart; stdout chains per process, so
 * its replica id carries the start time).
 */
function auditSinkFor(config: Config, env: Env): AuditSink {
  const chain = config.audit.chain;
  if (!chain.enabled) return createAuditSink(config.audit.sink);
  const key = chain.key === undefined ? undefined : readSecretSource('audit.chain.key', chain.key, env);
  const base = { algorithm: chain.algorithm, ...(key === undefined ? {} : { key }) };
  const sink = config.audit.sink;
  if (sink.type === 'file') return RotatingAuditFile.open({ ...base, path: sink.path, maxBytes: chain.rotateBytes, replica: chain.replica ?? hostname().replace(/[^A-Za-z0-9._:-]/g, '-').slice(0, 100) });
  const replica = chain.replica ?? `${hostname().replace(/[^A-Za-z0-9._:-]/g, '-').slice(0, 100)}.${Date.now().toString(36)}`;
  return new ChainedAuditSink(createAuditSink(sink), new AuditChain({ ...base, replica }));
}

/** The composition root: config → policy (swappable) + services (process lifetime) → servers. */
export function createApp(config: Config, options: AppOptions): App {
  const logger = options.logger ?? createLogger(config.logging.level);
  checkGrpcExposure(config.server.grpc, logger);
  warnPeerTrust(config, logger);
  const metrics = createMetrics();
  const observers = credentialObservers(metrics, logger);
  const material = loadServiceMaterial(config, options.env, observers.vault);
  const policy = compilePolicy(config);
  const audit = options.audit ?? auditSinkFor(config, options.env);
  const state = stateStoreFor(config, options.env, logger, metrics);
  let current = policy;
  let guards = buildUsageGuards(config, state);
  const identity = buildIdentityRuntime(config.identity, {
    store: state,
    apiKey: apiKeyLookup(() => current),
    readFile: readConfigFile,
    readSecret: (src) => readSecretSource('identity.requestProof.keys[].key', src, options.env),
    onJwksEvent: (e) => { logger.debug({ jwks: e }, 'jwks event'); },
  });
  const maxAgeMs = config.server.authzContextMaxAgeSeconds * 1000;
  // The kill switch: the disabled set lives in the state store; every replica copies it and revokes the
  // leases it holds for an identity that enters it (called only after start, once `services` exists).
  const killSwitch = material.killSwitchToken === undefined ? KILL_SWITCH_OFF : createKillSwitchState(state, {
    onDisabled: async (tenant, id) => (await services.credentials.revokeIdentity(tenant, id)).revoked,
    onEnabled: (tenant, id) => { services.credentials.enableIdentity(tenant, id); },
    onReadFailed: (err) => { logger.warn({ err: (err as Error).message }, 'kill switch: the disabled set could not be read; requests are refused once the copy is older than 1 s'); },
  });
  const services: Services = Object.freeze({
    policy: () => current,
    guards: () => guards,
    identity,
    killSwitch,
    credentials: createCredentialBroker(material.credentialSources, {
      refreshMs: config.vault?.kvRefreshMs ?? 5_000,
      // A request waits at most this long for a credential not in the cache (then 503, while the fetch
      // goes on and fills the cache): under Envoy's ext_proc message timeout (1 s, extproc/envoy/render.ts)
      // so the caller gets Tollgate's credential_unavailable rather than Envoy's 504.
      missWaitMs: 800,
      expiryMarginMs: config.vault?.expiryMarginMs ?? 30_000,
      ...(config.vault === undefined ? {} : { negativeCacheMs: config.vault.negativeCacheMs }),
      observer: observers.broker,
    }),
    authzContext: createAuthzContextCodec(material.authzContextKey, maxAgeMs),
    authzContextMaxAgeMs: maxAgeMs,
    bodyHmac: bodyHmacFrom(material.authzContextKey),
    state,
    audit,
    metrics,
    logger,
  });
  metrics.credentialAgesFrom(() => services.credentials.ages());
  // Leases are children of the token that read them: Vault revokes them with it (a non-periodic token at
  // its max TTL), so after every new token each cached lease is fetched anew under the new one.
  material.vault?.auth.onTokenChange((cause) => {
    void services.credentials.refreshAll({ leasesOnly: true, cause }).then((r) => {
      logger.info({ event: 'credential_leases_refetched', cause, refreshed: r.refreshed, failed: r.failed }, 'leases fetched anew under the new vault token');
    });
  });
  let grpc: GrpcServer | undefined;
  let admin: AdminServer | undefined;
  let ready = false;
  let stopping: Promise<void> | undefined;
  let notReady: string | undefined;
  let vaultRetry: NodeJS.Timeout | undefined;
  let markReady: () => void = () => undefined;
  const readyPromise = new Promise<void>((resolve) => { markReady = resolve; });
  const becomeReady = (): void => {
    ready = true;
    notReady = undefined;
    grpc?.setServing(true);
    markReady();
  };

  const refreshCredentials = async (trigger: string): Promise<RefreshSummary> => {
    await material.vault?.auth.rereadTokenFile().catch((err: unknown) => {
      logger.warn({ event: 'vault_token_file_refused', trigger, cause: conditionOf(err), error: (err as Error).message }, 'the new vault token file is refused; the current token stays');
    });
    const r = await services.credentials.refreshAll({ cause: trigger });
    logger.info({ event: 'credential_refresh_forced', trigger, refreshed: r.refreshed, failed: r.failed, forgotten: r.forgotten }, 'credentials re-read');
    return r;
  };

  /** Vault refused or was unreachable at start (onStartFailure: retry): log in again with backoff until it works. */
  const retryVaultLogin = (attempt: number): void => {
    const vault = material.vault;
    if (vault === undefined || stopping !== undefined) return;
    vaultRetry = setTimeout(() => {
      vaultRetry = undefined;
      vault.start().then(() => {
        if (stopping !== undefined) return;
        logger.info({ event: 'vault_start_recovered', attempts: attempt }, 'vault login succeeded; tollgate is ready');
        void services.credentials.refreshAll({ cause: 'vault_login' });
        becomeReady();
      }, (err: unknown) => {
        notReady = vaultNotReady(err);
        retryVaultLogin(attempt + 1);
      });
    }, backoffDelay(attempt, Math.random, { minMs: 1_000, maxMs: 30_000 }));
  };
  const openCalls = new Set<ProcessCall>();
  let tracing: TracingHandle | undefined;

  return {
    services,
    logger,
    metrics,
    policy: () => services.policy(),
    reload(next) {
      const compiled = compilePolicy(next);
      const needsRestart: string[] = (['server', 'vault', 'identity', 'audit', 'logging', 'state', 'limits', 'telemetry'] as const).filter((k) => JSON.stringify(next[k]) !== JSON.stringify(config[k]));
      const providersChanged = JSON.stringify(next.providers.map((p) => [p.name, p.credential])) !== JSON.stringify(config.providers.map((p) => [p.name, p.credential]));
      if (providersChanged) needsRestart.push('providers[].name/credential');
      const previous = current.revision;
      current = compiled;
      guards = buildUsageGuards(next, state);
      metrics.policyReloads.inc({ result: 'applied' });
      metrics.policyRevision.reset();
      metrics.policyRevision.set({ revision: compiled.revision }, 1);
      logger.info({ previous_revision: previous, policy_revision: compiled.revision, needs_restart: needsRestart }, 'policy reloaded');
      return { revision: compiled.revision, needsRestart };
    },
    refreshCredentials,
    notReadyReason: () => notReady,
    whenReady: () => readyPromise,
    async start() {
      const limits = config.limits;
      // Tollgate's own Vault login comes first: without it no Vault credential can be served. The
      // transport's retry waits are unref'd timers: hold the event loop open until the login settles,
      // so a Vault that is down ends in a clear error or a not-ready start, never a silent exit.
      let vaultDown: unknown;
      if (material.vault !== undefined) {
        const hold = setInterval(() => undefined, 60_000);
        try {
          await material.vault.start();
        } catch (err) {
          if (config.vault?.onStartFailure === 'exit') throw new Error(`vault login failed at start (${conditionOf(err)}): ${(err as Error).message}; not starting (vault.onStartFailure: exit)`, { cause: err });
          vaultDown = err;
        } finally {
          clearInterval(hold);
        }
      }
      // Remote JWKS are fetched once before ready; a failure is retried per request (and fails closed).
      await identity.warm().catch((err: unknown) => { logger.warn({ err }, 'a JWKS could not be fetched at start'); });
      await killSwitch.start();
      tracing = initTracing(config.telemetry.tracing);
      grpc = await startGrpcServer({
        host: config.server.grpc.host,
        port: config.server.grpc.port,
        ...(material.grpcTls === undefined ? {} : { tls: material.grpcTls }),
        maxMessageBytes: Math.max(limits.maxRequestBodyBytes, limits.maxResponseBodyBytes) + GRPC_MESSAGE_HEADROOM_BYTES,
        maxConcurrentStreams: config.server.grpc.maxConcurrentStreams,
        check: createCheckHandler(services),
        peerClaimsTrusted: peerClaimsTrust(config.server.grpc),
        ...(config.server.grpc.tls?.allowedClients === undefined ? {} : { authorizePeer: (ctx: AuthContext) => peerAllowed(ctx, config.server.grpc.tls?.allowedClients) }),
        process: trackCalls(guardProcess(createProcessHandler(services), config.server.grpc.tls?.allowedClients, logger), openCalls),
      });
      const token = material.killSwitchToken;
      metrics.policyRevision.set({ revision: current.revision }, 1);
      admin = await startAdminServer({
        host: config.server.admin.host,
        port: config.server.admin.port,
        registry: metrics.registry,
        ready: () => ready,
        notReadyReason: () => notReady,
        revision: () => current.revision,
        ...(token === undefined ? {} : {
          killSwitch: {
            token,
            state: killSwitch,
            known: (tenant, id) => current.identitiesById.get(id)?.tenant === tenant,
            onCall: (call) => {
              logger.warn({ action: call.action, tenant: call.tenant, identity: call.identity, status: call.status, accepted: call.reason === undefined }, 'kill switch called');
              audit.write(killSwitchAuditRecord(call, current.revision));
            },
          },
          credentialRefresh: {
            token,
            refresh: () => refreshCredentials('admin'),
            onCall: (accepted) => { logger.warn({ action: 'credentials_refresh', accepted }, 'credential refresh called'); },
          },
        }),
      });
      if (vaultDown === undefined) becomeReady();
      else {
        notReady = vaultNotReady(vaultDown);
        // gRPC health says NOT_SERVING too, so Envoy's health check prefers the replicas that are ready.
        grpc.setServing(false);
        logger.error({ event: 'vault_start_failed', cause: conditionOf(vaultDown), error: (vaultDown as Error).message }, 'vault login failed at start; listening but not ready, retrying with backoff');
        retryVaultLogin(1);
      }
      const listening = { grpc: { host: config.server.grpc.host, port: grpc.port }, admin: { host: config.server.admin.host, port: admin.port } };
      logger.info({ grpc: listening.grpc, admin: listening.admin, policy_revision: policy.revision, providers: [...policy.providers.keys()], ...(notReady === undefined ? {} : { not_ready: notReady }) }, notReady === undefined ? 'tollgate ready' : 'tollgate listening, not ready');
      return listening;
    },
    stop(stopOptions) {
      stopping ??= (async () => {
        ready = false;
        if (vaultRetry !== undefined) clearTimeout(vaultRetry);
        grpc?.setServing(false);
        const drainMs = stopOptions?.drainMs ?? config.server.drainSeconds * 1000;
        if (drainMs > 0) {
          logger.info({ drain_ms: drainMs }, 'draining');
          await new Promise((r) => setTimeout(r, drainMs));
        }
        await grpc?.stop(config.server.shutdownGraceSeconds * 1000);
        // Streams the forced shutdown cut: grpc-js reports them (if at all) only after stop() returns, so
        // end them here, before the audit flush, and each gets its record (cancelled) instead of none.
        for (const call of openCalls) call.emit('cancelled', 'cancelled');
        openCalls.clear();
        await admin?.close();
        killSwitch.close();
        await services.credentials.close(); // revokes every lease it holds
        await material.vault?.close(); // revokes Tollgate's own token
        await state.close();
        await audit.flush();
        await tracing?.shutdown().catch((err: unknown) => { logger.warn({ err: (err as Error).message }, 'trace export at shutdown failed'); });
        logger.info('tollgate stopped');
        await new Promise<void>((resolve) => { logger.flush(() => { resolve(); }); });
      })();
      return stopping;
    },
  };
}

type AuthContext = ReturnType<ProcessCall['getAuthContext']>;

/** The /readyz reason while Vault has not accepted Tollgate's login. */
const vaultNotReady = (err: unknown): string => `vault login failed (${conditionOf(err)}); retrying`;

// ---- The gRPC port's exposure: it hands out provider credentials, so the safe setup is the default.

export const isLoopback = (host: string): boolean =>
  host === 'localhost' || host === '::1' || host === '[::1]' || (isIP(host) === 4 && host.startsWith('127.'));

/**
 * Refuses a plaintext gRPC port on anything but loopback or a unix socket (`unix:` host) unless
 * `server.grpc.insecure: true`, which is logged as a warning. With `server.grpc.tls` any address is fine.
 */
export function checkGrpcExposure(grpc: Config['server']['grpc'], logger: Logger): void {
  if (grpc.tls !== undefined || grpc.host.startsWith('unix:') || isLoopback(grpc.host)) return;
  if (!grpc.insecure)
    throw new ConfigError(`server.grpc: refusing to listen in plaintext on ${grpc.host}: anyone who reaches this port can obtain provider credentials. Use a loopback address or a unix: socket (sidecar), server.grpc.tls (mTLS, central), or set server.grpc.insecure: true on a private network`);
  logger.warn({ host: grpc.host, port: grpc.port }, 'server.grpc.insecure: the gRPC port is plaintext on a non-loopback address; anyone who reaches it can obtain provider credentials');
}

/**
 * Who may report a caller's certificate in a Check (source.principal, source.certificate, XFCC): a
 * client whose own certificate, verified against server.grpc.tls.clientCaFile, names one of
 * server.grpc.tls.allowedClients (Envoy); anyone with server.grpc.trustUnauthenticatedPeers; else no one.
 */
export function peerClaimsTrust(grpc: Config['server']['grpc']): (ctx: AuthContext) => boolean {
  if (grpc.trustUnauthenticatedPeers) return () => true;
  const allowed = grpc.tls?.allowedClients;
  if (allowed === undefined) return () => false;
  return (ctx) => ctx.transportSecurityType === 'ssl' && peerNames(ctx).some((n) => allowed.includes(n));
}

/**
 * Why SPIFFE callers cannot be identified safely with this configuration, naming the field, or
 * undefined. With identity.mtls, the caller's certificate reaches Tollgate as a claim in the Check;
 * only Envoy, authenticated by its client certificate, may make it (or the operator opts out).
 */
export function peerTrustProblem(config: Config): string | undefined {
  const grpc = config.server.grpc;
  if (config.identity.mtls === undefined || grpc.trustUnauthenticatedPeers) return undefined;
  if (grpc.tls === undefined)
    return 'server.grpc.tls: identity.mtls is configured, so Check requests carry the caller\'s SPIFFE identity, and on a port without mTLS any local process can claim any identity and obtain its provider credential. Set server.grpc.tls with allowedClients naming Envoy, or (for a single-tenant host only) server.grpc.trustUnauthenticatedPeers: true';
  if (grpc.tls.allowedClients === undefined)
    return 'server.grpc.tls.allowedClients: identity.mtls is configured, so only Envoy may report a caller\'s SPIFFE identity; name Envoy\'s certificate (URI SAN, DNS SAN or subject CN) here, or set server.grpc.trustUnauthenticatedPeers: true';
  return undefined;
}

/** Logs what the gRPC port's peer trust means at start: the opt-out loudly, and SPIFFE callers that cannot be identified. */
function warnPeerTrust(config: Config, logger: Logger): void {
  if (config.identity.mtls === undefined) return;
  if (config.server.grpc.trustUnauthenticatedPeers) {
    logger.warn({ host: config.server.grpc.host, port: config.server.grpc.port }, 'server.grpc.trustUnauthenticatedPeers: ANY client of the gRPC port may claim ANY SPIFFE identity (source.principal, source.certificate, x-forwarded-client-cert) and obtain its provider credential; use server.grpc.tls with allowedClients instead');
    return;
  }
  const problem = peerTrustProblem(config);
  if (problem !== undefined) logger.warn({ field: problem.slice(0, problem.indexOf(':')) }, 'identity.mtls is configured but the gRPC port does not authenticate Envoy: SPIFFE identities in Check requests are ignored');
}

/** The names a verified client certificate carries: its URI and DNS SANs, and its subject CN. */
export function peerNames(ctx: AuthContext): readonly string[] {
  const cert = ctx.sslPeerCertificate;
  if (ctx.transportSecurityType !== 'ssl' || cert === undefined) return [];
  const sans = (cert.subjectaltname ?? '').split(', ').flatMap((e: string) => /^(?:URI|DNS):(.+)$/.exec(e)?.slice(1, 2) ?? []);
  const cn = (cert.subject as Partial<Record<string, string | string[]>> | undefined)?.CN;
  return [...sans, ...(cn === undefined ? [] : Array.isArray(cn) ? cn : [cn])];
}

/** True when no allow-list is configured, or the peer's certificate names an allowed client exactly. */
export function peerAllowed(ctx: AuthContext, allowed: readonly string[] | undefined): boolean {
  return allowed === undefined || peerNames(ctx).some((n) => allowed.includes(n));
}

/** Keeps the ext_proc calls in progress in `open` (each leaves it when its stream closes), for stop(). */
function trackCalls(handler: (call: ProcessCall) => void, open: Set<ProcessCall>): (call: ProcessCall) => void {
  return (call) => {
    open.add(call);
    call.once('close', () => { open.delete(call); });
    handler(call);
  };
}

/** ext_proc refuses a peer that is not an allowed client (PERMISSION_DENIED) before reading a message. */
function guardProcess(handler: (call: ProcessCall) => void, allowed: readonly string[] | undefined, logger: Logger): (call: ProcessCall) => void {
  if (allowed === undefined) return handler;
  return (call) => {
    if (peerAllowed(call.getAuthContext(), allowed)) { handler(call); return; }
    logger.warn({ peer: call.getPeer() }, 'ext_proc call from a client that is not in server.grpc.tls.allowedClients refused');
    call.emit('error', { code: 7, details: 'peer_not_allowed' });
  };
}
