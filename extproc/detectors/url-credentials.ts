// Passwords in URLs: scheme://user:password@host. The finding covers the password only, so the masked URL
// still shows scheme, user and host. Documentation placeholders ("password", "****", "${PASS}") are ignored.
import { classTable, inClass, isAlnum, isDigit, isLower, isWordFold, looksLikePlaceholder, wordsByLength } from './chars.ts';
import type { CharDetector } from './detector.ts';

const isSchemeChar = (c: number): boolean => isLower(c) || isDigit(c) || c === 43 || c === 46 || c === 45 || (c >= 65 && c <= 90);
/** RFC 3986 userinfo characters, without ':' and '@'. */
const isUserinfoChar = (c: number): boolean => c > 32 && c < 127 && c !== 58 && c !== 64 && c !== 47 && c !== 63 && c !== 35 && c !== 34 && c !== 39 && c !== 60 && c !== 62 && c !== 96 && c !== 92;
const isHostChar = (c: number): boolean => isAlnum(c) || c === 45 || c === 46 || c === 91;

const PLACEHOLDER_WORDS = ['password', 'pass', 'passwd', 'pwd', 'secret', 'changeme', 'xxx', 'xxxx', 'xxxxxx', '***', '****', '******', '********', '...', 'token', 'pw', 'mypassword', 'yourpassword', 'your_password', 'example'];
const PLACEHOLDERS = new Set(PLACEHOLDER_WORDS);
const PLACEHOLDERS_BY_LENGTH = wordsByLength(PLACEHOLDER_WORDS);

/** The placeholder tests other than the word list, on text[s, e) (s < e). */
function placeholderShape(text: string, s: number, e: number): boolean {
  const c = text.charCodeAt(s);
  // ${VAR}, $VAR, {{var}}, %s, [password], <pass>
  if (c === 36 || c === 123 || c === 37 || c === 91 || c === 60) return true;
  // One character over and over (`****`, `yyy`), or what the token placeholder filter refuses.
  let k = s + 1;
  while (k < e && text.charCodeAt(k) === c) k++;
  return k === e || looksLikePlaceholder(text, s, e);
}

/**
 * Whether a password is a documentation placeholder (`password`, `****`, `${PASS}`, `<pass>`, and what the
 * token placeholder filter refuses: `xxxxxxxx`, `00000000`, `abcdefgh…`, `YOUR_PASSWORD_HERE`, `example`...).
 */
export function isPasswordPlaceholder(pw: string): boolean {
  return PLACEHOLDERS.has(pw.toLowerCase()) || (pw.length > 0 && placeholderShape(pw, 0, pw.length));
}

/**
 * isPasswordPlaceholder for the password text[s, e) of ASCII characters only (a URL's userinfo), read in place
 * (`postgres://user:password@…` is in every tutorial; the slice and set cost about 2% of a prompt scan).
 */
const isAsciiPasswordPlaceholderAt = (text: string, s: number, e: number): boolean => isWordFold(PLACEHOLDERS_BY_LENGTH, text, s, e) || placeholderShape(text, s, e);

const MAX_PART = 128;

/**
 * Characters an unescaped password may hold besides userinfo characters: '@', '#', '?', ':' (people paste
 * `p@ss#1` as typed). Not '/', whitespace, quotes or brackets, so a path, a query or the text after the URL
 * never becomes part of it.
 */
const isLoosePasswordChar = (c: number): boolean => isUserinfoChar(c) || c === 58 || c === 64 || c === 35 || c === 63;

const SCHEME = 1;
const USERINFO = 2;
const HOST = 4;
const LOOSE = 8;
/**
 * The four classes above as bits SCHEME, USERINFO, HOST, LOOSE, in the list's order (none of them holds a code
 * above 126): the detector runs at
 * every `://` and walks the scheme and the user, so a class costs one load instead of a chain of compares.
 */
const CLASSES = classTable([isSchemeChar, isUserinfoChar, isHostChar, isLoosePasswordChar]);

/**
 * Where the password that starts at pwStart ends: the first '@' of the run that is followed by a host which
 * ends the run or is followed by ':' and a port digit (a host is never followed by '@', '#' or '?' inside the
 * authority); -1 when there is none.
 */
function passwordEnd(text: string, pwStart: number, limit: number): number {
  let k = pwStart;
  while (k < limit && inClass(CLASSES, text.charCodeAt(k), LOOSE)) {
    if (text.charCodeAt(k) === 64 && k > pwStart && inClass(CLASSES, text.charCodeAt(k + 1), HOST)) {
      let h = k + 1;
      while (h < limit && inClass(CLASSES, text.charCodeAt(h), HOST)) h++;
      const c = text.charCodeAt(h);
      if (c === 93) h++;
      const after = text.charCodeAt(h);
      if (!inClass(CLASSES, after, LOOSE) || (after === 58 && isDigit(text.charCodeAt(h + 1)))) return k;
    }
    k++;
  }
  return -1;
}

/** A port and a query or fragment (`host:8080?next=a@b.c`), not a password. */
function isPortLike(text: string, s: number, e: number): boolean {
  let k = s;
  while (k < e && isDigit(text.charCodeAt(k))) k++;
  return k > s && (k === e || text.charCodeAt(k) === 63 || text.charCodeAt(k) === 35);
}

export const urlCredentials: CharDetector = {
  kind: 'char',
  id: 'secret.url_credentials',
  type: 'URL_PASSWORD',
  triggers: ':',
  next: '/',
  maxLength: MAX_PART,
  at(text, i, report) {
    if (text.charCodeAt(i + 1) !== 47 || text.charCodeAt(i + 2) !== 47) return;
    // A scheme character before the ':' (the scheme's start does not matter).
    if (!inClass(CLASSES, text.charCodeAt(i - 1), SCHEME)) return;
    const userStart = i + 3;
    let j = userStart;
    const limit = Math.min(text.length, userStart + 2 * MAX_PART + 1);
    while (j < limit && inClass(CLASSES, text.charCodeAt(j), USERINFO)) j++;
    if (text.charCodeAt(j) !== 58 || j === userStart) return;
    const pwStart = j + 1;
    const k = passwordEnd(text, pwStart, Math.min(limit, pwStart + MAX_PART + 1));
    if (k < 0 || k - pwStart > MAX_PART || isPortLike(text, pwStart, k)) return;
    // The password is userinfo and loose characters, all ASCII: an ASCII fold is the lower-case copy's.
    if (isAsciiPasswordPlaceholderAt(text, pwStart, k)) return;
    report(pwStart, k);
  },
};
