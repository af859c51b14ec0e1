import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { z } from 'zod';
import { identitySchema } from '../config/schema.ts';
import { RULES } from '../core/decision.ts';
import type { ErrorCode } from '../errors.ts';
import type { KillSwitchState } from '../state/kill-switch.ts';
import { StateUnavailableError } from '../state/state-errors.ts';
import { buildAuditRecord, type AuditRecord } from '../telemetry/audit-record.ts';
import { presentsAdminToken } from './admin-token.ts';

/** The kill switch's admin API, served by the admin server when `server.admin.killSwitchToken` is set. */
export interface KillSwitchAdmin {
  /** The bearer token an operator must present (compared by SHA-256, constant time). */
  readonly token: Buffer;
  readonly state: KillSwitchState;
  /** Whether the policy in force has this identity in this tenant. */
  known(tenant: string, identity: string): boolean;
  /** Every call, accepted or not: written to the audit sink and the log. */
  onCall(call: KillSwitchCall): void;
}

export interface KillSwitchCall {
  readonly action: 'list' | 'revoke' | 'enable' | 'unknown';
  readonly method: string;
  readonly path: string;
  readonly status: number;
  /** The operator presented the token. */
  readonly authenticated: boolean;
  /** Only when the body named a valid pair. */
  readonly tenant?: string;
  readonly identity?: string;
  readonly reason?: ErrorCode;
}

export const KILL_SWITCH_PATH = '/admin/kill-switch';
const MAX_BODY_BYTES = 4096;

/** `{"tenant": "...", "identity": "..."}`: the identity's id as the policy spells it (a SPIFFE ID with `/` too). */
const targetSchema = z.strictObject({ tenant: identitySchema.shape.tenant.unwrap(), identity: identitySchema.shape.id });

/**
 * GET /admin/kill-switch (the disabled set), POST /admin/kill-switch/revoke and /enable with a JSON body
 * naming the pair; each with `authorization: Bearer <token>`. 401 without the token, 400 for a body that
 * is not exactly a valid pair, 404 for a pair the policy does not have (enable also accepts a pair that
 * is still in the set), 503 when the state store cannot answer. Returns false for other paths.
 */
export function handleKillSwitch(req: IncomingMessage, res: ServerResponse, path: string, admin: KillSwitchAdmin): boolean {
  if (path !== KILL_SWITCH_PATH && !path.startsWith(`${KILL_SWITCH_PATH}/`)) return false;
  const method = req.method ?? '';
  const action = path === KILL_SWITCH_PATH ? 'list' : path === `${KILL_SWITCH_PATH}/revoke` ? 'revoke' : path === `${KILL_SWITCH_PATH}/enable` ? 'enable' : 'unknown';
  const authenticated = presentsAdminToken(req, admin.token);
  let target: { tenant: string; identity: string } | undefined;
  const reply = (status: number, body: unknown, reason?: ErrorCode): void => {
    admin.onCall({ action, method, path, status, authenticated, ...(target ?? {}), ...(reason === undefined ? {} : { reason }) });
    res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' }).end(JSON.stringify(body) + '\n');
  };
  const fail = (status: number, reason: ErrorCode, message: string): void => { reply(status, { error: { code: reason, message } }, reason); };
  const failed = (err: unknown): void => {
    if (err instanceof StateUnavailableError) fail(503, 'state_unavailable', 'the state store did not answer; nothing may have changed');
    else fail(500, 'internal', 'the kill switch failed');
  };

  if (action === 'unknown') { req.resume(); fail(404, 'endpoint_not_allowed', 'no such kill-switch endpoint'); return true; }
  if (method !== (action === 'list' ? 'GET' : 'POST')) { req.resume(); fail(405, 'endpoint_not_allowed', `use ${action === 'list' ? 'GET' : 'POST'}`); return true; }
  if (!authenticated) { req.resume(); fail(401, 'unauthenticated', 'a valid bearer token is required'); return true; }
  if (action === 'list') {
    admin.state.list().then((disabled) => { reply(200, { disabled }); }, failed);
    return true;
  }
  readBody(req).then((raw) => {
    let parsed: unknown;
    try { parsed = raw === undefined ? undefined : JSON.parse(raw); } catch { parsed = undefined; }
    const body = targetSchema.safeParse(parsed);
    if (!body.success) { fail(400, 'body_malformed', 'the body must be {"tenant": "...", "identity": "..."} with a valid tenant and identity id'); return; }
    target = body.data;
    const { tenant, identity } = body.data;
    if (!admin.known(tenant, identity) && !(action === 'enable' && admin.state.listed(tenant, identity))) {
      fail(404, 'identity_unknown', 'the policy in force has no such identity in this tenant');
      return;
    }
    if (action === 'revoke')
      admin.state.disable(tenant, identity).then((r) => { reply(200, { tenant, identity, disabled: true, already_disabled: !r.added, revoked_leases: r.revokedLeases }); }, failed);
    else
      admin.state.enable(tenant, identity).then((r) => { reply(200, { tenant, identity, disabled: false, was_disabled: r.removed }); }, failed);
  }, () => { fail(400, 'body_malformed', `the body must be at most ${MAX_BODY_BYTES} bytes`); });
  return true;
}

/** The body as UTF-8, or undefined if empty; rejects past MAX_BODY_BYTES. */
function readBody(req: IncomingMessage): Promise<string | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY_BYTES) { req.removeAllListeners('data'); req.resume(); reject(new Error('too large')); return; }
      chunks.push(c);
    });
    req.on('end', () => { resolve(size === 0 ? undefined : Buffer.concat(chunks).toString('utf8')); });
    req.on('error', reject);
  });
}

/**
 * The audit record of one kill-switch call: `stage: admin`, the pair it named (if valid), the HTTP
 * status, `authenticated` for whether the operator's token verified. Never the token.
 */
export function killSwitchAuditRecord(call: KillSwitchCall, policyRevision: string): AuditRecord {
  return buildAuditRecord({
    stage: 'admin',
    authenticated: call.authenticated,
    outcome: call.reason === undefined ? 'completed' : 'denied',
    decisionId: randomUUID(),
    identity: call.tenant === undefined || call.identity === undefined ? undefined : { id: call.identity, tenant: call.tenant },
    method: call.method,
    path: call.path,
    reason: call.reason,
    rule: RULES.killSwitch,
    status: call.status,
    totalMs: 0,
    tollgateMs: 0,
    policyRevision,
  });
}
