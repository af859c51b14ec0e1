// Passwords on curl command lines: `curl -u user:pass …`, `--user user:pass`, `--user=user:pass`, quoted or
// not, on one line or continued with a backslash. The password is reported (the user stays readable), unless
// it is a placeholder (`$PASS`, `<password>`, `****`). Each `curl` scans forward at most to the end of its
// command (or to the next `curl`, whose own call takes over), so every character is looked at by one call.
import { hasAtFold, isAlnum } from './chars.ts';
import type { KeywordDetector } from './detector.ts';
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
  if (colon <= s || colon + 1 >= e) return e;
  if (!isPasswordPlaceholder(text.slice(colon + 1, e))) report(colon + 1, e);
  return e;
}

export const curlCredentials: KeywordDetector = {
  kind: 'keyword',
  id: 'secret.curl_credentials',
  type: 'PASSWORD',
  maxLength: MAX_VALUE,
  keywords: ['curl'],
  atKeyword(text, i, _keyword, report) {
    if (i > 0 && isAlnum(text.charCodeAt(i - 1))) return;
    if (!isSpace(text.charCodeAt(i + 4))) return;
    const limit = Math.min(text.length, i + MAX_COMMAND);
    let j = i + 5;
    while (j < limit) {
      const c = text.charCodeAt(j);
      if (c === 10 || c === 13) {
        // A continued line ends in a backslash (before optional spaces).
        let k = j - 1;
        while (k > i && isSpace(text.charCodeAt(k))) k--;
        if (text.charCodeAt(k) !== 92) return;
        j++;
        continue;
      }
      if ((c === 99 || c === 67) && hasAtFold(text, j, 'curl') && !isAlnum(text.charCodeAt(j - 1))) return;
      if (c === 45 && isSpace(text.charCodeAt(j - 1))) {
        if (text.charCodeAt(j + 1) === 117 && isSpace(text.charCodeAt(j + 2))) {
          let v = j + 3;
          while (v < limit && isSpace(text.charCodeAt(v))) v++;
          j = userPass(text, v, report);
          continue;
        }
        if (text.startsWith('--user', j) && (isSpace(text.charCodeAt(j + 6)) || text.charCodeAt(j + 6) === 61)) {
          let v = j + 7;
          while (v < limit && isSpace(text.charCodeAt(v))) v++;
          j = userPass(text, v, report);
          continue;
        }
      }
      j++;
    }
  },
};
