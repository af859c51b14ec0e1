// A local JWKS server on 127.0.0.1:0 for JWT tests: keys minted at run time, rotation, a fetch
// counter, and failure modes (HTTP error, slow answers, oversized bodies, garbage).
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK } from 'jose';

export interface SigningKey {
  readonly kid: string;
  readonly alg: 'RS256' | 'ES256' | 'PS256' | 'EdDSA';
  readonly privateKey: CryptoKey;
  readonly publicJwk: JWK;
}

export async function makeSigningKey(kid: string, alg: SigningKey['alg'] = 'ES256'): Promise<SigningKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  const publicJwk = { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' };
  return { kid, alg, privateKey, publicJwk };
}

/** Signs `claims` with `key`; `header` overrides header fields (e.g. to drop the kid). */
export async function mint(key: SigningKey, claims: Record<string, unknown>, header: Record<string, unknown> = {}): Promise<string> {
  return new SignJWT(claims).setProtectedHeader({ alg: key.alg, kid: key.kid, typ: 'JWT', ...header }).sign(key.privateKey);
}

export type JwksMode = 'ok' | 'error' | 'slow' | 'huge' | 'garbage' | 'redirect';

export class JwksServer {
  readonly #server: Server;
  #keys: SigningKey[] = [];
  mode: JwksMode = 'ok';
  slowMs = 5_000;
  fetches = 0;

  private constructor(server: Server) {
    this.#server = server;
  }

  static async start(keys: SigningKey[]): Promise<JwksServer> {
    const server = createServer();
    const s = new JwksServer(server);
    s.#keys = keys;
    server.on('request', (req, res) => {
      s.fetches++;
      const send = (status: number, body: string, headers: Record<string, string> = {}): void => {
        res.writeHead(status, { 'content-type': 'application/json', ...headers });
        res.end(body);
      };
      switch (s.mode) {
        case 'error': send(503, '{"error":"down"}'); return;
        case 'garbage': send(200, 'not json{'); return;
        case 'huge': send(200, JSON.stringify({ keys: s.#keys.map((k) => k.publicJwk), pad: 'x'.repeat(400_000) })); return;
        case 'redirect': send(302, '', { location: '/elsewhere' }); return;
        case 'slow': {
          const t = setTimeout(() => { send(200, JSON.stringify({ keys: s.#keys.map((k) => k.publicJwk) })); }, s.slowMs);
          req.on('close', () => { clearTimeout(t); });
          return;
        }
        case 'ok': send(200, JSON.stringify({ keys: s.#keys.map((k) => k.publicJwk) }));
      }
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return s;
  }

  get url(): string {
    return `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}/jwks.json`;
  }

  /** Replaces the published keys (a rotation). */
  setKeys(keys: SigningKey[]): void {
    this.#keys = keys;
  }

  async stop(): Promise<void> {
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => { resolve(); }));
  }
}
