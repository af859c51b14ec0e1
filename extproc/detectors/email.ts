// Email addresses, anchored on '@'. The domain needs two or more labels and an alphabetic TLD that is not a
// file extension ("icon@2x.png"). Userinfo in URLs ("https://user:pw@host") is left to the URL detector.
import { classTable, hasAtFold, inClass, isAlnum, isAlpha, isWordFold, wordsByLength } from './chars.ts';
import type { CharDetector } from './detector.ts';

const isLocalChar = (c: number): boolean => isAlnum(c) || c === 46 || c === 95 || c === 37 || c === 43 || c === 45;
const LOCAL = 1;
const LABEL = 2;
/** Local-part and domain-label characters (bits LOCAL and LABEL): the walks cost one load per character. */
const CLASSES = classTable([isLocalChar, (c) => isAlnum(c) || c === 45]);
const FILE_TLDS = wordsByLength(['png', 'jpg', 'jpeg', 'gif', 'svg', 'webp', 'ico', 'bmp', 'css', 'js', 'mjs', 'ts', 'tsx', 'jsx', 'json', 'map', 'txt', 'md', 'pdf', 'zip', 'gz', 'tgz', 'yaml', 'yml', 'xml', 'html', 'lock', 'log']);

/**
 * Whether the local part at s sits in a URL's userinfo after an unescaped character of the password
 * (`ftp://u:p#ss@host`): "://" and then a ':' before s, with no '/' or space between (bounded, like the URL
 * detector's userinfo).
 */
function inUrlUserinfo(text: string, s: number): boolean {
  let colon = false;
  const low = Math.max(0, s - 300);
  for (let k = s - 1; k >= low + 2; k--) {
    const c = text.charCodeAt(k);
    if (c === 47) return colon && text.charCodeAt(k - 1) === 47 && text.charCodeAt(k - 2) === 58;
    if (c <= 32 || c === 34 || c === 39 || c === 60 || c === 62 || c === 96) return false;
    if (c === 58) colon = true;
  }
  return false;
}

export const email: CharDetector = {
  kind: 'char',
  id: 'pii.email',
  type: 'EMAIL',
  triggers: '@',
  // A local-part character before the '@' and a domain label's first character after it (the detector returns
  // at once otherwise): decorators, npm scopes and `@ ` never reach it.
  prev: 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._%+-',
  next: 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789',
  maxLength: 64 + 1 + 253,
  at(text, i, report) {
    let s = i;
    for (const low = Math.max(0, i - 64); s > low && inClass(CLASSES, text.charCodeAt(s - 1), LOCAL); ) s--;
    while (s < i && text.charCodeAt(s) === 46) s++;
    if (s === i || text.charCodeAt(i - 1) === 46) return;
    const before = s > 0 ? text.charCodeAt(s - 1) : 32;
    if (inClass(CLASSES, before, LOCAL) || before === 64) return; // local part longer than 64, or a@b@c
    if ((before === 58 || before === 47) && !hasAtFold(text, s - 7, 'mailto:')) return;
    // Domain: labels of [A-Za-z0-9-], separated by single dots.
    let j = i + 1;
    const limit = Math.min(text.length, j + 253);
    let labels = 0;
    let lastLabelStart = j;
    let end = -1;
    while (j < limit) {
      const ls = j;
      while (j < limit && inClass(CLASSES, text.charCodeAt(j), LABEL)) j++;
      if (j === ls || text.charCodeAt(ls) === 45 || text.charCodeAt(j - 1) === 45) break;
      labels++;
      lastLabelStart = ls;
      end = j;
      if (text.charCodeAt(j) !== 46 || !isAlnum(text.charCodeAt(j + 1))) break;
      j++;
    }
    if (labels < 2 || end < 0 || isAlnum(text.charCodeAt(end))) return;
    // git@github.com:org/repo.git is an SSH remote, not a mailbox.
    if (text.charCodeAt(end) === 58 && isAlnum(text.charCodeAt(end + 1))) return;
    // The TLD read in place (no slice): ASCII letters, so an ASCII fold is its lower-case copy's.
    if (end - lastLabelStart < 2 || end - lastLabelStart > 24) return;
    for (let k = lastLabelStart; k < end; k++) if (!isAlpha(text.charCodeAt(k))) return;
    if (isWordFold(FILE_TLDS, text, lastLabelStart, end) || inUrlUserinfo(text, s)) return;
    report(s, end);
  },
};
