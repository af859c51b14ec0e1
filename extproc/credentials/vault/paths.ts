// Vault paths are built only here, from validated segments: caller text never reaches a Vault URL.

/** A Vault API path below /v1, e.g. "/secret/data/openai". Only vaultPath() makes one. */
export type VaultPath = string & { readonly __vaultPath: unique symbol };

/** Letters, digits and `_ - . @ +`; must start with a letter or digit, so `.` and `..` are impossible. */
const SEGMENT = /^[A-Za-z0-9][A-Za-z0-9_.@+-]{0,127}$/;

export class VaultPathError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'VaultPathError';
  }
}

/** Throws unless `s` is one safe path segment. The message quotes at most 64 characters of it. */
export function checkSegment(s: string, what = 'path segment'): string {
  if (!SEGMENT.test(s)) throw new VaultPathError(`invalid Vault ${what} ${JSON.stringify(s.slice(0, 64))}`);
  return s;
}

/** Splits "a/b/c" (no leading, trailing or double slashes) into checked segments. */
export function splitPath(path: string, what = 'path'): string[] {
  if (path === '') throw new VaultPathError(`empty Vault ${what}`);
  return path.split('/').map((s) => checkSegment(s, `${what} segment`));
}

/** Joins checked segments into a path, each percent-encoded (a no-op for the allowed charset). */
export function vaultPath(...segments: readonly string[]): VaultPath {
  if (segments.length === 0) throw new VaultPathError('empty Vault path');
  return `/${segments.map((s) => encodeURIComponent(checkSegment(s))).join('/')}` as VaultPath;
}

export interface TemplateValues {
  readonly tenant: string;
  readonly identity: string;
  readonly provider: string;
}

const PLACEHOLDER = /^\{(tenant|identity|provider)\}$/;

/**
 * A path template such as "tollgate/{tenant}/{provider}". Placeholders must be whole segments;
 * literal segments are checked when the template is compiled (config load), and substituted
 * values when it is rendered (a tenant or identity outside the charset is refused, not encoded).
 */
export function compilePathTemplate(template: string): (values: TemplateValues) => string[] {
  const parts = template.split('/').map((part) => {
    const m = PLACEHOLDER.exec(part);
    if (m !== null) return { placeholder: m[1] as keyof TemplateValues };
    if (part.includes('{') || part.includes('}')) throw new VaultPathError(`placeholder must be a whole path segment: ${JSON.stringify(template)}`);
    return { literal: checkSegment(part, 'path template segment') };
  });
  return (values) => parts.map((p) => ('literal' in p ? p.literal : checkSegment(values[p.placeholder], p.placeholder)));
}

