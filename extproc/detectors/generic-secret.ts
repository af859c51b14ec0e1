// Keyword = value secrets: a value assigned to a name that ends in password, passwd, pwd, the word pass
// (`DB_PASS`, `dbPass`; not `BYPASS`), Passwort, Kennwort, mot de passe, secret, token,
// api key, access key, private key, credential(s) or creds (optionally followed by a word for the value: `key`,
// `string`, `value`, `text`: `secret_key`, `mySecretString`; or numbered: `api_token_2`), or to a vendor whose
// keys have no prefix named alone (`cloudflare: "…"`, with a token-shaped value), in any of the shapes people
// paste: env files and shell (`DB_PASSWORD=…`, `export X="…"`), YAML (`password: …`), JSON (`"apiKey": "…"`),
// code (`token = '…'`, `Password: "…"`, `:=`, `=>`, `?=`, `??=`, `.=`, `::=`, `env["X"] = …`, `var x string = …`,
// `val x: String = …`), XML elements (`<password>…</password>`, `<entry key="password">…</entry>`, `<add
// key="ApiToken" value="…"/>`), calls and lists that pair a quoted name with a quoted value
// (`System.setProperty("db.password", "…")`, secret.generic_secret_pair), `.netrc` (`login u password p`), `.npmrc`
// (`//registry/:_authToken=…`, `_auth=…`, `_password=…`), `.pypirc` and docker `config.json` (`"auth": "<base64
// of user:pass>"`). The value must look like a secret: 8-200 characters, entropy ≥ 3 bits (2.75 for short hex), a digit or a symbol
// (other than the `-_./` of names) or else 16+ characters of mixed case, and not a reference (`${X}`, `$X`, `{{ x }}`, `<x>`, `os.environ…`,
// `config.db.password`), a path or URL, a placeholder (`changeme`, `********`, `xxxx`, `EXAMPLE`), elided
// (`abc...`), or a package coordinate (`name-1.2.3`); names meant public (`publicToken`, `NEXT_PUBLIC_…`,
// `publishableKey`) and anti-forgery tokens (`csrf`, `xsrf`) are not credentials, nor are types in code
// (`credential: Uint8Array)`). Only the value is reported.
import { classMix, entropy, hasAt, hasAtFold, isAlnum, isBase64Char, isDigit, isCodeReference, isHex, isQuote, looksLikePlaceholder, lowerAscii, randomCase, runEnd, runStart } from './chars.ts';
import type { CharDetector, KeywordDetector } from './detector.ts';
import { assignmentAt, MAX_NAME, isNameChar, nameEndBefore, nameHas, nameStart, operatorStart } from './assignment.ts';
import { isPasswordPlaceholder } from './url-credentials.ts';
import { decodesToUserPass } from './validators.ts';

const MIN = 8;
const MAX = 200;
const isSpace = (c: number): boolean => c === 32 || c === 9 || c === 10 || c === 13;
/**
 * Values in a format a vendor detector owns: that detector decides (a sample or a test key it rejects is not
 * reported here as a generic secret instead).
 */
const CLAIMED = ['-----BEGIN', 'ghp_', 'gho_', 'ghu_', 'ghs_', 'ghr_', 'github_pat_', 'glpat-', 'sk-', 'sk_test_', 'pk_test_', 'pk_live_', 'rk_test_', 'xox', 'AKIA', 'ASIA', 'AIza', 'hf_', 'npm_', 'eyJ'];
const NOT_SECRET = new Set(['changeme', 'changeit', 'password1', 'secret123', 'required', 'optional', 'undefined', 'string', 'null', 'none', 'true', 'false']);

/**
 * Vault's tokens before 1.10 (`s.` service, `b.` batch, `r.` recovery + 24 base62 characters) read like a member
 * access (`s.Xyz…`), yet the random tail (digits and both cases) says otherwise.
 */
function legacyVaultToken(text: string, s: number, e: number): boolean {
  if (e - s !== 26 || text.charCodeAt(s + 1) !== 46 || !'sbr'.includes(text.charAt(s))) return false;
  for (let k = s + 2; k < e; k++) if (!isAlnum(text.charCodeAt(k))) return false;
  const m = classMix(text, s + 2, e);
  return m.digit > 0 && m.upper > 0 && m.lower > 0;
}

const SHORT_HEX = 24;

/**
 * Entropy h of text[s, e) of at least 3 bits, or 2.75 for 16-23 hex characters of one case with digits and
 * letters: the count of distinct symbols caps a short value's entropy, and 3 bits would refuse 14% of random
 * 16-character hex keys (3% of 20) where 2.75 refuses 2% (0.2%). Exported for the header detector's gate.
 */
export function enoughEntropy(text: string, s: number, e: number, h: number): boolean {
  if (h >= 3) return true;
  const n = e - s;
  if (h < 2.75 || n < 16 || n >= SHORT_HEX) return false;
  for (let k = s; k < e; k++) if (!isHex(text.charCodeAt(k))) return false;
  const m = classMix(text, s, e);
  return m.digit > 0 && (m.lower === 0) !== (m.upper === 0);
}

/** Whether text[s, e) passes the value gate (see the header comment). */
export function secretValue(text: string, s: number, e: number): boolean {
  const n = e - s;
  if (n < MIN || n > MAX) return false;
  const c0 = text.charCodeAt(s);
  // $X ${X} %X% {{x}} <x> [x] @x &anchor *alias (x) !tag /path ~/path ./path
  if (c0 === 36 || c0 === 37 || c0 === 123 || c0 === 60 || c0 === 91 || c0 === 64 || c0 === 38 || c0 === 42 || c0 === 40 || c0 === 33 || c0 === 47 || c0 === 126) return false;
  if (c0 === 46 && text.charCodeAt(s + 1) === 47) return false;
  // Cheap shape checks before any copy of the value.
  if ((isCodeReference(text, s, e) && !legacyVaultToken(text, s, e)) || looksLikePlaceholder(text, s, e)) return false;
  const h = entropy(text, s, e);
  if (!enoughEntropy(text, s, e, h)) return false;
  const m = classMix(text, s, e);
  // Symbols other than the separators of names and slugs (`-`, `_`, `.`, `/`, space).
  let strong = 0;
  for (let k = s; k < e; k++) {
    const c = text.charCodeAt(k);
    if (!isAlnum(c) && c !== 45 && c !== 95 && c !== 46 && c !== 47 && c !== 32) strong++;
  }
  // A digit or a symbol, or a long random mixed-case run; `my-app-secret`, `DefaultPassword`, `FlattenedJWSInput` are names.
  if (!(m.digit > 0 || strong > 0 || (m.upper >= 2 && m.lower >= 2 && n >= 16 && h >= 3.5 && randomCase(text, s, e)))) return false;
  const value = text.slice(s, e);
  // Templates (also after a prefix: `t1.<token>`), URLs, and samples cut short in documentation (`t1.9euelZqP...`).
  if (value.includes('${') || value.includes('{{') || /<[\w -]+>/.test(value) || value.includes('://') || value.startsWith('http')) return false;
  // Elided (`ops_eyJzaWdu...`, `abc..[Redacted]`, `t1.9eue…`), a generic type (`Awaited<ReturnType<…>>`), a
  // package coordinate (`jjwt-jackson-0.11.2`), or the
  // text of another assignment caught between quotes (`"api_token = "`).
  if (value.includes('..') || value.includes('\u2026') || /^[A-Za-z_$][\w$.]*</.test(value) || /^[A-Za-z]+(?:-[A-Za-z]+)*-\d+(?:\.\d+)+$/.test(value) || / [=:]$/.test(value)) return false;
  for (const p of CLAIMED) if (value.startsWith(p)) return false;
  return !isPasswordPlaceholder(value) && !NOT_SECRET.has(value.toLowerCase()) && !encodedPlaceholder(value);
}

/** A padded base64 value (a Kubernetes Secret's `data:`) that decodes to a placeholder (`Y2hhbmdlbWU=`: changeme). */
function encodedPlaceholder(value: string): boolean {
  if (value.charCodeAt(value.length - 1) !== 61 || value.length % 4 !== 0 || value.length > 64) return false;
  let k = value.length - 1;
  while (k > value.length - 3 && value.charCodeAt(k) === 61) k--;
  for (let j = 0; j <= k; j++) if (!isBase64Char(value.charCodeAt(j))) return false;
  const plain = Buffer.from(value, 'base64').toString('latin1');
  return isPasswordPlaceholder(plain) || NOT_SECRET.has(plain.toLowerCase());
}

/** docker config.json / .npmrc `auth`: base64 of printable "user:password". */
function authEntryAt(text: string, s: number, e: number): boolean {
  for (let k = s; k < e; k++) {
    const c = text.charCodeAt(k);
    if (!isBase64Char(c) && c !== 61) return false;
  }
  return decodesToUserPass(text.slice(s, e));
}

/** The value starting at v: [start, end) of a quoted string's content or of a bare word; -1 end when none. */
function valueAt(text: string, v: number): [number, number] {
  const q = text.charCodeAt(v);
  if (q === 34 || q === 39 || q === 96) {
    const limit = Math.min(text.length, v + 1 + MAX + 1);
    let k = v + 1;
    while (k < limit && text.charCodeAt(k) !== q && text.charCodeAt(k) !== 10) {
      // An escaped quote inside a JSON or shell string.
      if (text.charCodeAt(k) === 92) k++;
      k++;
    }
    if (text.charCodeAt(k) !== q) return [v, -1];
    // Spaces just inside the quotes are not part of the value.
    let a = v + 1;
    let b = k;
    while (a < b && text.charCodeAt(a) === 32) a++;
    while (b > a && text.charCodeAt(b - 1) === 32) b--;
    return [a, b];
  }
  const limit = Math.min(text.length, v + MAX + 1);
  let k = v;
  for (; k < limit; k++) {
    const c = text.charCodeAt(k);
    if (c <= 32 || c === 34 || c === 39 || c === 96 || c === 44 || c === 59 || c === 125 || c === 41 || c === 93) break;
  }
  // A trailing '.' ends a sentence, not the value.
  let e = k;
  while (e > v && text.charCodeAt(e - 1) === 46) e--;
  return [v, e];
}

const NO_MEMO = new Map<string, number>();
/** What genericSecret is called after: the last letters of its keywords, a quote, a space, an operator's first character. */
const PREV = 'dtnyhDTNYH"\' \t?.]';
const NOT_CREDENTIALS = ['public', 'publishable', 'csrf', 'xsrf'];
/**
 * Vendors whose keys have no prefix of their own, named alone (`cloudflare: "…"`, `"artifactory", "…"`): only as
 * the whole name, and the value must have a token's shape (tokenShaped).
 */
const VENDORS = ['cloudflare', 'artifactory', 'jfrog', 'datadog', 'cohere', 'pagerduty', 'mailgun'];
/** Words after a credential word that name its value (`mySecretString`, `secret_value`, `tokenText`), as `key` does. */
const VALUE_WORDS = ['key', 'string', 'value', 'text'];
const NAMES = ['password', 'passwd', 'pwd', 'pass', 'passwort', 'kennwort', 'mot de passe', 'secret', 'token', 'apikey', 'api_key', 'api-key', 'access_key', 'accesskey', 'private_key', 'private-key', 'privatekey', 'credential', 'credentials', 'creds', 'auth', ...VENDORS];

/**
 * The keyword that ends the name just before `e`, directly or before a "key" suffix (`secret_key`, `secretKey`),
 * or after a number (`api_token_2`, `password1`); undefined when none. `auth` counts only as the whole name
 * (`"auth"`, `_auth`), not inside author/oauth.
 */
function keywordBefore(text: string, e: number): string | undefined {
  const name = keywordEndingAt(text, e);
  return name !== undefined || !isDigit(text.charCodeAt(e - 1)) ? name : numberedKeyword(text, e);
}

function keywordEndingAt(text: string, e: number): string | undefined {
  const whole = nameEndingAt(text, e, true);
  if (whole !== undefined) return whole;
  const w = VALUE_WORD_BY_LAST[text.charCodeAt(e - 1) | 32];
  if (w === undefined || e < w.length || !hasAtFold(text, e - w.length, w)) return undefined;
  let k = e - w.length;
  const c = text.charCodeAt(k - 1);
  if (c === 95 || c === 45) k--;
  return nameEndingAt(text, k, false);
}

/** Per lower-case last letter: the VALUE_WORDS word ending in it (their last letters differ). */
const VALUE_WORD_BY_LAST: readonly (string | undefined)[] = (() => {
  const t: string[] = [];
  for (const w of VALUE_WORDS) t[w.charCodeAt(w.length - 1)] = w;
  return t;
})();

/** The keyword before a number of 1-3 digits (and a `_` or `-`) that ends at `e`. */
function numberedKeyword(text: string, e: number): string | undefined {
  let d = e - 1;
  while (d > e - 3 && isDigit(text.charCodeAt(d - 1))) d--;
  if (isDigit(text.charCodeAt(d - 1))) return undefined;
  const c = text.charCodeAt(d - 1);
  return keywordEndingAt(text, c === 95 || c === 45 ? d - 1 : d);
}

/** Per lower-case last letter: the names ending in it. */
const BY_LAST: readonly (readonly string[] | undefined)[] = (() => {
  const t: string[][] = [];
  for (const n of NAMES) (t[n.charCodeAt(n.length - 1)] ??= []).push(n);
  return t;
})();

function nameEndingAt(text: string, end: number, whole: boolean): string | undefined {
  const list = BY_LAST[text.charCodeAt(end - 1) | 32];
  if (list === undefined) return undefined;
  for (const name of list) {
    const s = end - name.length;
    if (s < 0 || !hasAtFold(text, s, name)) continue;
    if ((name === 'auth' || VENDORS.includes(name)) && (!whole || isAlnum(text.charCodeAt(s - 1)))) continue;
    if (name === 'pass' && !(whole && passWord(text, s))) continue;
    return name;
  }
  return undefined;
}

/**
 * `pass` at s is a word of a name: after no letter or digit (`DB_PASS`, `smtp.pass`, `pass`) or as a camel-case
 * word (`dbPass`, `SMTPPass`), not the end of another word (`BYPASS`, `COMPASS`, `bypass`).
 */
function passWord(text: string, s: number): boolean {
  return !isAlnum(text.charCodeAt(s - 1)) || (text.charCodeAt(s) === 80 && text.charCodeAt(s + 1) === 97);
}

/**
 * `var token string = "…"`, `val token: String = "…"`: where the name ends when the word before the '=' (and a
 * space) is a string type; `end` otherwise.
 */
function declaredNameEnd(text: string, end: number): number {
  const last = text.charCodeAt(end - 1) | 32;
  if ((last !== 103 && last !== 114) || text.charCodeAt(end) !== 32) return end;
  const w = hasAtFold(text, end - 6, 'string') ? end - 6 : hasAt(text, end - 3, 'str') ? end - 3 : -1;
  if (w < 0 || text.charCodeAt(w - 1) !== 32) return end;
  let k = w - 1;
  while (k > w - 4 && text.charCodeAt(k - 1) === 32) k--;
  return text.charCodeAt(k - 1) === 58 ? k - 1 : k;
}

/** Reports the value text[s, e) of a credential name when it passes that name's gate. */
function reportValue(text: string, name: string, s: number, e: number, report: (s: number, e: number) => void): void {
  if (name === 'auth' ? authEntryAt(text, s, e) && e - s >= 8 : secretValue(text, s, e) && (!VENDORS.includes(name) || tokenShaped(text, s, e))) report(s, e);
}

/**
 * A token's shape: 20+ characters of [A-Za-z0-9_-] with digits and letters; with `-` or `_` only in mixed case
 * (a base64url token), as one-case words and numbers joined by them are names and versions (`command-r-08-2024`).
 */
function tokenShaped(text: string, s: number, e: number): boolean {
  if (e - s < 20) return false;
  let separators = 0;
  for (let k = s; k < e; k++) {
    const c = text.charCodeAt(k);
    if (c === 45 || c === 95) separators++;
    else if (!isAlnum(c)) return false;
  }
  const m = classMix(text, s, e);
  return m.digit > 0 && m.upper + m.lower > 0 && (separators === 0 || (m.upper > 0 && m.lower > 0));
}

const isElementNameChar = (c: number): boolean => isAlnum(c) || c === 95 || c === 45 || c === 46 || c === 58;
const MAX_ELEMENT_NAME = 48;

/**
 * At the '>' of an XML element named like a credential: `<password>v</password>`, `<apiToken>\n  v\n</apiToken>`.
 * The value runs to the end of its line or the next '<', and the element must close right after it.
 */
function elementAt(text: string, t: number, report: (s: number, e: number) => void): void {
  const q = text.charCodeAt(t - 1);
  const attribute = q === 34 || q === 39;
  // `<entry key="password">v</entry>`: the name is the key attribute's value.
  const end = attribute ? t - 1 : t;
  const name = keywordBefore(text, end);
  if (name === undefined) return;
  const ns = runStart(text, end, isElementNameChar, MAX_ELEMENT_NAME);
  if (attribute ? text.charCodeAt(ns - 1) !== q || !hasAtFold(text, ns - 5, 'key=') : text.charCodeAt(ns - 1) !== 60) return;
  const limit = Math.min(text.length, t + 1 + 64 + MAX + 1);
  let v = t + 1;
  while (v < limit && isSpace(text.charCodeAt(v))) v++;
  let k = v;
  while (k < limit && k - v <= MAX && text.charCodeAt(k) !== 60 && text.charCodeAt(k) !== 10) k++;
  let e = k;
  while (e > v && isSpace(text.charCodeAt(e - 1))) e--;
  while (k < limit && isSpace(text.charCodeAt(k))) k++;
  // The closing tag: `</` + the same name + `>` (any name after an attribute).
  if (text.charCodeAt(k) !== 60 || text.charCodeAt(k + 1) !== 47) return;
  if (!attribute) {
    const n = t - ns;
    if (text.charCodeAt(k + 2 + n) !== 62) return;
    for (let j = 0; j < n; j++) if (text.charCodeAt(k + 2 + j) !== text.charCodeAt(ns + j)) return;
  }
  reportValue(text, name, v, e, report);
}

/**
 * At the '=' of a `key` attribute whose value names a credential and is followed by a `value` attribute
 * (.NET `<add key="ApiToken" value="…" />`): the value attribute is reported.
 */
function keyAttributeAt(text: string, t: number, report: (s: number, e: number) => void): void {
  const q = text.charCodeAt(t + 1);
  if ((q !== 34 && q !== 39) || isAlnum(text.charCodeAt(t - 4))) return;
  let close = t + 2;
  while (close < t + 2 + MAX_ELEMENT_NAME && isElementNameChar(text.charCodeAt(close))) close++;
  if (text.charCodeAt(close) !== q) return;
  const name = keywordBefore(text, close);
  if (name === undefined || nameHas(text, t + 2, close, NOT_CREDENTIALS)) return;
  const v = close + 1 + (text.charCodeAt(close + 1) === 32 ? 1 : 0);
  if (!hasAtFold(text, v, 'value=')) return;
  const [s, e] = valueAt(text, v + 6);
  if (e >= 0 && text.charCodeAt(v + 6) === q) reportValue(text, name, s, e, report);
}

/** At the ',' of a quoted name and value passed together (see genericSecretPair). */
function pairAt(text: string, t: number, report: (s: number, e: number) => void): void {
  const q = text.charCodeAt(t - 1);
  if ((q !== 34 && q !== 39) || !mayEndName(text, t - 1)) return;
  const name = keywordBefore(text, t - 1);
  if (name === undefined) return;
  const ns = nameStart(text, t - 1);
  const open = text.charCodeAt(ns - 2);
  // After an opening bracket, a comma or a space, or at the start of a line (a CSV row).
  if (text.charCodeAt(ns - 1) !== q || !(ns < 2 || open === 40 || open === 91 || open === 123 || open === 44 || open === 32 || open === 10)) return;
  let v = t + 1;
  while (v < t + 4 && text.charCodeAt(v) === 32) v++;
  const c = text.charCodeAt(v);
  if ((c !== 34 && c !== 39) || nameHas(text, ns, t - 1, NOT_CREDENTIALS)) return;
  const [s, e] = valueAt(text, v);
  if (e < 0) return;
  // In a list of names or samples the next item is a name or a sentence: short lower-case words
  // (`'x-amz-content-sha256'`), another credential name (`'aws_secret_access_key='`), or words with spaces.
  const value = text.slice(s, e);
  if (/^[a-z][a-z0-9]{0,9}(?:[-_.][a-z][a-z0-9]{0,9}){2,}$/.test(value) || /\s|password|secret|token/i.test(value)) return;
  reportValue(text, name, s, e, report);
}

/**
 * What a credential name ends in, as keywordBefore and declaredNameEnd read it, in either case: a name's last
 * letter, a value word's (`key`, `string`...), a number's digit, or the `g` / `r` of a declared `string` / `str` type.
 */
const NAME_LAST = new Set([...[...NAMES, ...VALUE_WORDS].map((n) => n.charCodeAt(n.length - 1)), 103, 114]);
const isNameLast = (c: number): boolean => isDigit(c) || NAME_LAST.has(c | 32);
/**
 * The last two letters (lower case, at first * 128 + second) of every name and value word and of the declared
 * types `string` / `str`: a name ending otherwise, and not in a digit, has no keyword before it (keywordBefore,
 * declaredNameEnd and the `key` attribute all compare one of those words ending there).
 */
const NAME_ENDS = new Uint8Array(128 * 128);
for (const w of [...NAMES, ...VALUE_WORDS, 'string', 'str']) NAME_ENDS[w.charCodeAt(w.length - 2) * 128 + w.charCodeAt(w.length - 1)] = 1;
/** Whether a name whose last two characters are `second` and `last` may be a credential name. */
const mayEndWith = (second: number, last: number): boolean => isDigit(last) || NAME_ENDS[(lowerAscii(second) & 127) * 128 + (lowerAscii(last) & 127)] === 1;
const mayEndName = (text: string, e: number): boolean => mayEndWith(text.charCodeAt(e - 2), text.charCodeAt(e - 1));
/** What may stand between a name and its separator (read backwards by nameEndBefore and operatorStart). */
const isBetween = (c: number): boolean => c === 34 || c === 39 || c === 32 || c === 9 || c === 63 || c === 46 || c === 93 || c === 58;

/**
 * A bare value after ':' that is a type in code, not a value: an indexed type (`AuditRecord['credential']`) or
 * one followed by what ends a parameter or starts an initialiser (`credential: Uint8Array)`, `token: Buffer =`,
 * `creds: Creds | null`).
 */
function typeAnnotation(text: string, e: number): boolean {
  if (text.charCodeAt(e - 1) === 91) return true;
  let k = e;
  while (k < e + 3 && text.charCodeAt(k) === 32) k++;
  const c = text.charCodeAt(k);
  return c === 41 || c === 124 || c === 38 || c === 62 || (c === 61 && text.charCodeAt(k + 1) !== 61 && k > e);
}

/**
 * Called at each '=' and ':' after a letter, a quote, a space or an operator character (`?=`, `.=`; `::=` and
 * `:::=` at their first ':', so a ':' after ':' costs nothing, as in `arn:aws:s3:::`), and at '>' after a letter
 * (XML elements). The name is read backwards (assignment.ts), so keywords cost nothing where no separator follows
 * them.
 */
export const genericSecret: CharDetector = {
  kind: 'char',
  id: 'secret.generic_secret',
  type: 'GENERIC_SECRET',
  triggers: '=:>',
  prev: PREV,
  // Through a quote, spaces or an operator character, the name's last character or more of those; right after
  // the name, its last two characters (`at` reads them there first: mayEndName).
  before: (p2, p) => (isBetween(p) ? isNameLast(p2) || isBetween(p2) : mayEndWith(p2, p)),
  // Through a closing quote, or a space or an operator's `?` / `.` with no more of those before it, the name's
  // last two characters (nameEndBefore, then mayEndName).
  before3: (p3, p2, p) => (isQuote(p) ? mayEndWith(p3, p2) : p === 32 || p === 9 || p === 63 || p === 46 ? isBetween(p2) || mayEndWith(p3, p2) : true),
  maxLength: MAX,
  at(text, t0, report) {
    const c = text.charCodeAt(t0);
    if (c === 62) {
      elementAt(text, t0, report);
      return;
    }
    let t = t0;
    if (c === 58 && text.charCodeAt(t + 1) === 58) {
      const k = text.charCodeAt(t + 2) === 58 ? t + 3 : t + 2;
      if (text.charCodeAt(k) !== 61) return;
      t = k;
    }
    // The name's end first (constant work, and most names are not credential names): its last two letters.
    let e = nameEndBefore(text, operatorStart(text, t));
    if (!mayEndName(text, e)) return;
    if (keywordBefore(text, e) === undefined) {
      if (e === t && (text.charCodeAt(t - 1) | 32) === 121 && hasAtFold(text, t - 3, 'key')) keyAttributeAt(text, t, report);
      const d = declaredNameEnd(text, e);
      if (d === e || keywordBefore(text, d) === undefined) return;
      e = d;
    }
    // `X-Api-Key:` inside a quoted or code span whose quote closes right after the separator is not a value, nor
    // is the string after `"?token=" + …`; `token="v"` is.
    const quotedName = text.charCodeAt(e) === 34 || text.charCodeAt(e) === 39;
    const after = text.charCodeAt(t + 1);
    if (!quotedName && (after === 34 || after === 39 || after === 96)) {
      const first = text.charCodeAt(t + 2);
      if (c === 58 || after === 96 || first === after || first === 32 || first === 43 || first === 46 || first === 44 || first === 41 || first === 59) return;
    }
    const a = assignmentAt(text, t);
    if (a === undefined) return;
    const nameEnd = declaredNameEnd(text, a.nameEnd);
    const name = keywordBefore(text, nameEnd);
    if (name === undefined) return;
    // Values meant to be public (`publicToken`, `NEXT_PUBLIC_API_KEY`, `publishableKey`) and anti-forgery tokens
    // (`csrf_token`, `X-XSRF-TOKEN`), which pages embed for every visitor, are not credentials.
    if (nameHas(text, nameStart(text, nameEnd), nameEnd, NOT_CREDENTIALS)) return;
    const [s, end] = valueAt(text, a.value);
    // A bare value cut off with an ellipsis (`ops_eyJzaWdu...`): the trailing dots are not part of it.
    if (end < 0 || (text.charCodeAt(end) === 46 && text.charCodeAt(end + 1) === 46)) return;
    if (c === 58 && s === a.value && typeAnnotation(text, end)) return;
    reportValue(text, name, s, end, report);
  },
};

/**
 * Names whose last character is not one genericSecret is called after (`credentials:`, `creds=`,
 * `mySecretString=`, `secret_value:`, `cloudflare:`, `DB_PASS=`, `smtpPass:`): found at a keyword inside the name
 * (`cred` and `secret` at the pair `cr`, where the scanner already stops for the AWS secret key's `secret`; `jfrog`
 * at `jf`, `cloudflare` at `fl`, `_pass` at `_p`, `Pass` as written at `Pa`), the name read forward to its
 * separator, which is then read as genericSecret reads it. Adding those last letters to genericSecret's `prev`
 * instead cost 9% on prompt text (`https:` alone; `s` alone measured 5% again), and `pass` in any case (its pair
 * `pa`) 2-5% on prompt text and prose, so a bare `pass:`, `PASS=` or `smtp.pass=` is found only with a space or a
 * quote before its separator. A password in prose (`the password is V`) was read at `password` and `passwort`
 * too (their pair `sw`): 2-4% of scan time on prompt text, so not kept.
 */
export const genericSecretName: KeywordDetector = {
  kind: 'keyword',
  id: 'secret.generic_secret_name',
  type: 'GENERIC_SECRET',
  maxLength: MAX,
  keywords: ['cred', 'secret', 'cloudflare', 'jfrog', '_pass', 'Pass'],
  atKeyword(text, i, keyword, report, memo = NO_MEMO) {
    // A separator right after the name (after a space, a quote or an operator's first character, genericSecret
    // is called there itself).
    const e = runEnd(text, i + keyword.length, isNameChar, MAX_NAME);
    const c = text.charCodeAt(e);
    if ((c === 61 || c === 58 || c === 62) && !PREV.includes(text.charAt(e - 1))) genericSecret.at(text, e, report, memo);
  },
};

/**
 * A quoted name and value passed together: `System.setProperty("db.password", "…")`,
 * `os.environ.setdefault('API_TOKEN', '…')`, `Map.of("secret", "…")`, `["token", "…"]`. Called at each ',' right
 * after a quote (its own detector, so the commas of prose cost nothing); the same gates as keyword = value.
 */
export const genericSecretPair: CharDetector = {
  kind: 'char',
  id: 'secret.generic_secret_pair',
  type: 'GENERIC_SECRET',
  triggers: ',',
  prev: '"\'',
  // pairAt reads the value's opening quote after at most three spaces.
  next: ' "\'',
  before: (p2) => isNameLast(p2),
  // The name's last two characters before its closing quote (mayEndName in pairAt).
  before3: (p3, p2) => mayEndWith(p3, p2),
  maxLength: MAX,
  at: (text, t, report) => {
    pairAt(text, t, report);
  },
};

const NETRC_ENTRY = 256;

/**
 * `.netrc` entries: "machine h login u password p", on one line or several. Found at `login` (a keyword whose
 * marked pair `gi` is rarer in text than any pair of `machine` or `password`), which looks forward at most
 * NETRC_ENTRY characters for the `password` token and stops at the next `login`, so every character is looked
 * at by one call.
 */
export const netrcPassword: KeywordDetector = {
  kind: 'keyword',
  id: 'secret.netrc_password',
  type: 'GENERIC_SECRET',
  maxLength: MAX,
  keywords: ['login'],
  atKeyword(text, i, _keyword, report) {
    if (!text.startsWith('login', i) || isAlnum(text.charCodeAt(i - 1)) || !isSpace(text.charCodeAt(i + 5))) return;
    const limit = Math.min(text.length, i + NETRC_ENTRY);
    for (let j = i + 6; j < limit; j++) {
      if (!isSpace(text.charCodeAt(j - 1))) continue;
      if (text.startsWith('login', j)) return;
      if (!text.startsWith('password', j) || !isSpace(text.charCodeAt(j + 8))) continue;
      let v = j + 9;
      while (v < limit && isSpace(text.charCodeAt(v))) v++;
      const [s, e] = valueAt(text, v);
      if (e > 0 && secretValue(text, s, e)) report(s, e);
      return;
    }
  },
};

const COMMAND_LINE = 256;

/**
 * The MySQL and MariaDB clients' password option with the password attached (`mysql -u root -pV`, `mysqldump
 * -p'V'`; `--password=V` is a keyword = value): found at the command's name (`mysql`, `mysqldump`, `mariadb`),
 * which looks forward on its line, to the end of the command (`|`, `;`, `&`) or COMMAND_LINE characters, for a
 * `-p` word with text attached. Other tools' `-p` (`ssh -p 22`, `mkdir -p`) have no client named before them.
 */
export const mysqlPassword: KeywordDetector = {
  kind: 'keyword',
  id: 'secret.mysql_password',
  type: 'GENERIC_SECRET',
  maxLength: MAX,
  keywords: ['mysql', 'mariadb'],
  atKeyword(text, i, keyword, report) {
    if (isAlnum(text.charCodeAt(i - 1))) return;
    const limit = Math.min(text.length, i + COMMAND_LINE);
    for (let j = i + keyword.length; j < limit; j++) {
      const c = text.charCodeAt(j);
      if (c === 10 || c === 124 || c === 59 || c === 38) return;
      if (c !== 45 || text.charCodeAt(j + 1) !== 112 || !isSpace(text.charCodeAt(j - 1))) continue;
      const [s, e] = valueAt(text, j + 2);
      if (e > s && secretValue(text, s, e)) report(s, e);
      return;
    }
  },
};
