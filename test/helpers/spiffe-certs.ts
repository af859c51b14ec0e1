// SPIFFE test PKI made at run time with the openssl CLI: a CA per trust domain and X509-SVID-shaped
// leaf certificates. Nothing is committed; everything lives in a temporary directory.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeCa, type Pem } from './certs.ts';

export interface SpiffePki {
  readonly dir: string;
  readonly ca: (trustDomain: string) => Pem;
  /** A leaf signed by the trust domain's CA with the given SAN list (e.g. "URI:spiffe://td/x"). */
  readonly leaf: (name: string, issuerTrustDomain: string, san: string, options?: { ca?: boolean }) => string;
  readonly cleanup: () => void;
}

const openssl = (args: string[], cwd: string): void => {
  execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
};

export function makeSpiffePki(trustDomains: readonly string[]): SpiffePki {
  const dir = mkdtempSync(join(tmpdir(), 'tollgate-spiffe-'));
  const cas = new Map<string, Pem>();
  for (const td of trustDomains) cas.set(td, makeCa(dir, `ca-${td}`));
  const ca = (td: string): Pem => {
    const p = cas.get(td);
    if (p === undefined) throw new Error(`no CA for ${td}`);
    return p;
  };
  const leaf = (name: string, issuerTd: string, san: string, options: { ca?: boolean } = {}): string => {
    const issuer = ca(issuerTd);
    openssl(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/O=SPIFFE/CN=${name}`], dir);
    const ext = [`subjectAltName=${san}`, `basicConstraints=critical,CA:${options.ca === true ? 'TRUE' : 'FALSE'}`, `keyUsage=critical,digitalSignature${options.ca === true ? ',keyCertSign' : ''}`, 'extendedKeyUsage=clientAuth,serverAuth'];
    writeFileSync(join(dir, `${name}.ext`), `${ext.join('\n')}\n`);
    openssl(['x509', '-req', '-in', `${name}.csr`, '-CA', issuer.certFile, '-CAkey', issuer.keyFile, '-CAcreateserial', '-out', `${name}.crt`, '-days', '2', '-extfile', `${name}.ext`], dir);
    return readFileSync(join(dir, `${name}.crt`), 'utf8');
  };
  return { dir, ca, leaf, cleanup: () => { rmSync(dir, { recursive: true, force: true }); } };
}

/** How Envoy sends the peer certificate in CheckRequest attributes.source.certificate. */
export const urlEncodedPem = (pem: string): string => encodeURIComponent(pem);
