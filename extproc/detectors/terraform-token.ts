// HCP Terraform / Terraform Enterprise API tokens: 14 alphanumerics, ".atlasv1.", then 60-70 characters of
// [A-Za-z0-9_=-]. The scanner calls at the 'v' of ".atlasv1." ('.' is common in text, and the last '.', before
// a digit as in "v1.8…", would be inside a number token and never reach a char detector).
import { boundaryAt, hasAt, isAlnum, isTokenChar, randomLooking, runEnd, runStart } from './chars.ts';
import type { CharDetector } from './detector.ts';

const MID = '.atlasv1.';
const isTail = (c: number): boolean => isTokenChar(c) || c === 61;

export const terraformToken: CharDetector = {
  kind: 'char',
  id: 'secret.terraform_token',
  type: 'TERRAFORM_TOKEN',
  triggers: 'v',
  prev: 's',
  next: '1',
  maxLength: 14 + MID.length + 70,
  at(text, i, report) {
    const m = i - 6;
    if (m < 14 || !hasAt(text, m, MID)) return;
    const t = m + MID.length - 1;
    const s = runStart(text, m, isAlnum, 15);
    if (m - s !== 14 || !boundaryAt(text, s - 1, isTokenChar)) return;
    const end = runEnd(text, t + 1, isTail, 71);
    const n = end - t - 1;
    if (n < 60 || n > 70 || !boundaryAt(text, end, isTail)) return;
    if (randomLooking(text, s, m, 2, 3) && randomLooking(text, t + 1, end, 3, 4)) report(s, end);
  },
};
