// Microsoft Entra ID (Azure AD) application client secrets: 3 characters, a digit, "Q~", then 31-34 characters
// of [A-Za-z0-9_~.-] (40 in all today). The scanner calls at the '~' after 'Q'.
import { allChars, boundaryAt, isAlnum, isDigit, randomLooking, runEnd } from './chars.ts';
import type { CharDetector } from './detector.ts';

const isSecretChar = (c: number): boolean => isAlnum(c) || c === 95 || c === 126 || c === 46 || c === 45;

export const azureAdClientSecret: CharDetector = {
  kind: 'char',
  id: 'secret.azure_ad_client_secret',
  type: 'AZURE_CLIENT_SECRET',
  triggers: '~',
  prev: 'Q',
  maxLength: 40,
  at(text, i, report) {
    const s = i - 5;
    if (s < 0 || !isDigit(text.charCodeAt(i - 2))) return;
    if (!allChars(text, s, i - 2, isSecretChar)) return;
    if (!boundaryAt(text, s - 1, isSecretChar)) return;
    let end = runEnd(text, i + 1, isSecretChar, 36);
    if (end - i - 1 > 35 || !boundaryAt(text, end, isSecretChar)) return;
    // A sentence's final '.' is not part of the secret.
    if (end - i - 1 === 35 && text.charCodeAt(end - 1) === 46) end--;
    const n = end - i - 1;
    if (n < 31 || n > 34) return;
    if (randomLooking(text, s, end, 3, 4)) report(s, end);
  },
};
