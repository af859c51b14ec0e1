// HCP Terraform / Terraform Enterprise API tokens: 14 alphanumerics, ".atlasv1.", then 60-70 characters of
// [A-Za-z0-9_=-]. Found by the shared keyword pass (".atlasv1."): a '.' after a digit, as in "v1.8…", is inside a
// number token and never reaches a char detector, and a trigger on a letter would stop the hot loop on prose.
import { boundaryAt, hasAt, isAlnum, isTokenChar, randomLooking, runEnd, runStart } from './chars.ts';
import type { KeywordDetector } from './detector.ts';

const MID = '.atlasv1.';
const isTail = (c: number): boolean => isTokenChar(c) || c === 61;

export const terraformToken: KeywordDetector = {
  kind: 'keyword',
  id: 'secret.terraform_token',
  type: 'TERRAFORM_TOKEN',
  keywords: [MID],
  maxLength: 14 + MID.length + 70,
  atKeyword(text, m, _keyword, report) {
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
