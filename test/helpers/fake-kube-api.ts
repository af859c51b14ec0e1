// A loopback HTTPS fake of the one Kubernetes API call Vault's kubernetes auth makes:
// POST /apis/authentication.k8s.io/v1/tokenreviews. Its CA and server certificate are made at run
// time with openssl; service-account tokens are ES256 JWTs minted at run time with the projected
// token's claim shape. Only tokens admitted by the test are authenticated. It never logs a token:
// each review is recorded by the label the test gave the token ("unknown" for anything else).
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { generateKeyPair, SignJWT, type CryptoKey } from 'jose';
import { makeCa, makeLeaf, pem } from './certs.ts';

const REVIEW_PATH = '/apis/authentication.k8s.io/v1/tokenreviews';
/** The API server's own audience, used when a review names none (as a real cluster does). */
export const API_AUDIENCE = 'https://kubernetes.default.svc.cluster.local';

export interface ServiceAccountIdentity {
  readonly namespace: string;
  readonly name: string;
  readonly uid: string;
}

export interface ReviewRecord {
  /** The label given to admit(), or "unknown". */
  readonly label: string;
  /** Whether the caller presented the configured reviewer token as its bearer. */
  readonly reviewerBearer: boolean;
  /** spec.audiences as sent by the caller. */
  readonly audiences: readonly string[];
  readonly authenticated: boolean;
  readonly status: number;
}

interface Admitted {
  readonly label: string;
  readonly identity: ServiceAccountIdentity;
  readonly audiences: readonly string[];
}

export interface FakeKubeApi {
  /** https://127.0.0.1:PORT */
  readonly url: string;
  /** PEM of the CA that signed the server certificate (for `kubernetes_ca_cert`). */
  readonly caPem: string;
  /** The bearer token the fake requires on TokenReview calls (for `token_reviewer_jwt`). */
  readonly reviewerToken: string;
  /** Every TokenReview answered so far, oldest first. */
  readonly reviews: readonly ReviewRecord[];
  /** One line per request, for grepping: method, path, status, label; never a token. */
  readonly log: readonly string[];
  /** From now on, `token` authenticates as `identity`, for a review naming one of `audiences` (or none). */
  admit(label: string, token: string, identity: ServiceAccountIdentity, audiences: readonly string[]): void;
  /** From now on, `token` is unknown (deleted service account, expired token). */
  forget(token: string): void;
  close(): Promise<void>;
}

export interface ServiceAccountTokenClaims extends ServiceAccountIdentity {
  readonly audiences: readonly string[];
  readonly issuer?: string;
  readonly ttlS?: number;
}

/** Mints projected-service-account-shaped JWTs signed by a key made at run time. */
export interface ServiceAccountTokenMinter {
  mint(claims: ServiceAccountTokenClaims): Promise<string>;
}

export async function serviceAccountTokenMinter(): Promise<ServiceAccountTokenMinter> {
  const { privateKey }: { privateKey: CryptoKey } = await generateKeyPair('ES256');
  return {
    async mint(c) {
      const nowS = Math.floor(Date.now() / 1000);
      return new SignJWT({
        'kubernetes.io': { namespace: c.namespace, serviceaccount: { name: c.name, uid: c.uid }, pod: { name: `${c.name}-pod`, uid: crypto.randomUUID() } },
      })
        .setProtectedHeader({ alg: 'ES256', kid: 'fake-kube-sa', typ: 'JWT' })
        .setIssuer(c.issuer ?? 'https://kubernetes.default.svc.cluster.local')
        .setSubject(`system:serviceaccount:${c.namespace}:${c.name}`)
        .setAudience([...c.audiences])
        .setIssuedAt(nowS)
        .setNotBefore(nowS)
        .setExpirationTime(nowS + (c.ttlS ?? 3600))
        .setJti(crypto.randomUUID())
        .sign(privateKey);
    },
  };
}

const readBody = (req: IncomingMessage, limit: number): Promise<string> =>
  new Promise((resolve, reject) => {
    let size = 0;
    const chunks: Buffer[] = [];
    req.on('data', (d: Buffer) => {
      size += d.length;
      if (size > limit) { reject(new Error('body too large')); req.destroy(); return; }
      chunks.push(d);
    });
    req.on('end', () => { resolve(Buffer.concat(chunks).toString('utf8')); });
    req.on('error', reject);
  });

const send = (res: ServerResponse, status: number, body: unknown): void => {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
};

const kubeStatus = (code: number, reason: string, message: string): Record<string, unknown> =>
  ({ kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, code });

interface ReviewRequest {
  readonly token: string;
  readonly audiences: readonly string[];
}

function parseReview(text: string): ReviewRequest | undefined {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof v !== 'object' || v === null) return undefined;
  const spec = (v as { spec?: unknown }).spec;
  if (typeof spec !== 'object' || spec === null) return undefined;
  const { token, audiences } = spec as { token?: unknown; audiences?: unknown };
  if (typeof token !== 'string' || token === '') return undefined;
  const auds = Array.isArray(audiences) ? audiences.filter((a): a is string => typeof a === 'string') : [];
  return { token, audiences: auds };
}

/** Starts the fake on 127.0.0.1:0; certificates are written under `dir`. */
export async function startFakeKubeApi(dir: string): Promise<FakeKubeApi> {
  const ca = makeCa(dir, 'fake-kube-ca');
  const leaf = makeLeaf(dir, 'fake-kube-api', ca, 'IP:127.0.0.1,DNS:localhost', 'serverAuth');
  const reviewerToken = await (await serviceAccountTokenMinter()).mint({ namespace: 'vault', name: 'vault-token-reviewer', uid: crypto.randomUUID(), audiences: [API_AUDIENCE] });
  const admitted = new Map<string, Admitted>();
  const reviews: ReviewRecord[] = [];
  const log: string[] = [];

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const line = (status: number, label: string): void => { log.push(`${req.method ?? '?'} ${req.url ?? '?'} ${status} ${label}`); };
    if (req.method !== 'POST' || req.url !== REVIEW_PATH) {
      line(404, '-');
      send(res, 404, kubeStatus(404, 'NotFound', 'the server could not find the requested resource'));
      return;
    }
    const reviewerBearer = req.headers.authorization === `Bearer ${reviewerToken}`;
    const body = await readBody(req, 64 * 1024);
    if (!reviewerBearer) {
      // A real API server refuses an unauthenticated TokenReview with 401.
      line(401, '-');
      reviews.push({ label: '-', reviewerBearer, audiences: [], authenticated: false, status: 401 });
      send(res, 401, kubeStatus(401, 'Unauthorized', 'Unauthorized'));
      return;
    }
    const review = parseReview(body);
    if (review === undefined) {
      line(400, '-');
      send(res, 400, kubeStatus(400, 'BadRequest', 'a TokenReview needs spec.token'));
      return;
    }
    const who = admitted.get(review.token);
    const wanted = review.audiences.length > 0 ? review.audiences : [API_AUDIENCE];
    const echo = who === undefined ? [] : wanted.filter((a) => who.audiences.includes(a));
    const authenticated = who !== undefined && echo.length > 0;
    const label = who?.label ?? 'unknown';
    reviews.push({ label, reviewerBearer, audiences: review.audiences, authenticated, status: 201 });
    line(201, label);
    const status = authenticated
      ? {
          authenticated: true,
          user: {
            username: `system:serviceaccount:${who.identity.namespace}:${who.identity.name}`,
            uid: who.identity.uid,
            groups: ['system:serviceaccounts', `system:serviceaccounts:${who.identity.namespace}`, 'system:authenticated'],
          },
          audiences: echo,
        }
      : { authenticated: false, user: {}, error: who === undefined ? 'invalid bearer token' : 'token audiences are invalid for the target audiences' };
    send(res, 201, {
      kind: 'TokenReview',
      apiVersion: 'authentication.k8s.io/v1',
      metadata: { creationTimestamp: null },
      spec: { audiences: review.audiences },
      status,
    });
  };

  const server: Server = createServer({ cert: pem(leaf.certFile), key: pem(leaf.keyFile) }, (req, res) => {
    handle(req, res).catch(() => {
      log.push(`${req.method ?? '?'} ${req.url ?? '?'} 500 -`);
      if (!res.headersSent) send(res, 500, kubeStatus(500, 'InternalError', 'fake kube api failed'));
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => { resolve(); });
  });
  const { port } = server.address() as AddressInfo;

  return {
    url: `https://127.0.0.1:${port}`,
    caPem: pem(ca.certFile).toString('utf8'),
    reviewerToken,
    reviews,
    log,
    admit(label, token, identity, audiences) {
      admitted.set(token, { label, identity, audiences: [...audiences] });
    },
    forget(token) {
      admitted.delete(token);
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => { resolve(); });
      }),
  };
}
