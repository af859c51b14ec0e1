// Passwords on curl command lines: `curl -u user:pass …`, `--user user:pass`, `--user=user:pass`, quoted or
// not (also `user:'pass'`), on one line or continued with a backslash. The password is reported (the user stays readable), unless
// it is a placeholder (`$PASS`, `<password>`, `****`, `<user:pass>`, the user's own name); with no user (`-u :token`) too; with no password
// (`-u KEY:`, an API key as the user) the user is reported when it looks like a secret. The scanner calls at the option's '-' (a trigger it has
// anyway); the `curl` before it is found backwards, remembering the previous answer, so a scan stays linear.
import { hasAtFold, isAlnum } from './chars.ts';
import type { CharDetector } from './detector.ts';
import { secretValue } from './generic-secret.ts';
import { isPasswordPlaceholder } from './url-credentials.ts';

const MAX_COMMAND = 4096;
const MAX_VALUE = 256;

const isSpace = (c: number): boolean => c === 32 || c === 9;

/** Reports the password of the user:pass value at v (quoted or bare); returns where the value ends. */
function userPass(text: string, v: number, report: (s: number, e: number) => void): number {
  const q = text.charCodeAt(v);
  const quoted = q === 34 || q === 39;
  const s = quoted ? v + 1 : v;
  const limit = Math.min(text.length, s + MAX_VALUE);
  let e = s;
  let colon = -1;
  for (; e < limit; e++) {
    const c = text.charCodeAt(e);
    if (quoted ? c === q : c <= 32 || c === 34 || c === 39) break;
    if (c === 10 || c === 13) break;
    if (c === 58 && colon < 0) colon = e;
  }
  if (quoted && text.charCodeAt(e) !== q) return e;
  if (colon < 0) return e;
  // `user:'pass'` (the shell joins the two words): the quoted password after the colon.
  const pq = text.charCodeAt(e);
  if (!quoted && colon + 1 === e && (pq === 34 || pq === 39)) {
    let close = e + 1;
    while (close < limit && text.charCodeAt(close) !== pq && text.charCodeAt(close) !== 10) close++;
    if (text.charCodeAt(close) !== pq) return e;
    if (!isPasswordPlaceholder(text.slice(e + 1, close))) report(e + 1, close);
    return close + 1;
  }
  if (colon + 1 >= e) {
    // `-u KEY:`: an API key sent as the user with no password; reported when it passes the keyword = value gate.
    if (colon > s && secretValue(text, s, colon)) report(s, colon);
    return e;
  }
  // `<user:password>` is a template; a password equal to the user (`test:test`) is a demo login.
  if (text.charCodeAt(s) === 60) return e;
  const password = text.slice(colon + 1, e);
  if (!isPasswordPlaceholder(password) && password !== text.slice(s, colon)) report(colon + 1, e);
  return e;
}

/**
 * Whether a `curl` word starts earlier on the logical line (backslash continuations join lines) of the option
 * at j, at most MAX_COMMAND characters back. Linear over a scan: the answer for the previous option is kept in
 * `memo`, and the search back stops at that option.
 */
function curlBefore(text: string, j: number, memo: Map<string, number>): boolean {
  const prevAt = memo.get('curl.at') ?? -1;
  const prevOk = memo.get('curl.ok') === 1;
  const limit = Math.max(0, j - MAX_COMMAND);
  let found = false;
  for (let k = j - 1; k >= limit; k--) {
    if (k === prevAt) {
      found = prevOk;
      break;
    }
    const c = text.charCodeAt(k);
    if (c === 10 || c === 13) {
      let b = k - 1;
      while (b >= limit && (isSpace(text.charCodeAt(b)) || text.charCodeAt(b) === 13)) b--;
      if (text.charCodeAt(b) !== 92) break;
      continue;
    }
    if ((c === 99 || c === 67) && hasAtFold(text, k, 'curl') && !isAlnum(text.charCodeAt(k - 1)) && isSpace(text.charCodeAt(k + 4))) {
      found = true;
      break;
    }
  }
  memo.set('curl.at', j);
  memo.set('curl.ok', found ? 1 : 0);
  return found;
}

/** Called at a '-' after a space that starts `-u ` or `--user`; the `curl` before it is looked up backwards. */
export const curlCredentials: CharDetector = {
  kind: 'char',
  id: 'secret.curl_credentials',
  type: 'PASSWORD',
  triggers: '-',
  prev: ' \t',
  next: 'u-',
  maxLength: MAX_VALUE,
  at(text, j, report, memo) {
    let v: number;
    if (text.charCodeAt(j + 1) === 117 && isSpace(text.charCodeAt(j + 2))) v = j + 3;
    else if (text.startsWith('--user', j) && (isSpace(text.charCodeAt(j + 6)) || text.charCodeAt(j + 6) === 61)) v = j + 7;
    else return;
    if (!curlBefore(text, j, memo)) return;
    while (v < text.length && v < j + 16 && isSpace(text.charCodeAt(v))) v++;
    userPass(text, v, report);
  },
};
