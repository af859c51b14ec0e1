// Google Cloud: API keys (AIza + 35 base64url characters) and service-account key files. In a service-account
// JSON the private key itself is caught by the private-key detector; this one reports the private_key_id value
// when "service_account" appears within 400 characters before it.
import { boundaryAt, contextWords, hasAt, hasContextWord, isBase64UrlChar, isDigit, looksLikePlaceholder, runEnd } from './chars.ts';
import type { CharDetector } from './detector.ts';

export const gcpApiKey: CharDetector = {
  kind: 'char',
  id: 'secret.gcp_api_key',
  type: 'GCP_API_KEY',
  triggers: 'A',
  next: 'I',
  maxLength: 39,
  at(text, i, report) {
    if (!hasAt(text, i, 'AIza') || !boundaryAt(text, i - 1, isBase64UrlChar)) return;
    const end = runEnd(text, i + 4, isBase64UrlChar, 36);
    if (end - i === 39 && boundaryAt(text, end, isBase64UrlChar) && !looksLikePlaceholder(text, i + 4, end)) report(i, end);
  },
};

const isHex = (c: number): boolean => isDigit(c) || (c >= 97 && c <= 102);
const KEY = 'private_key_id';
const SERVICE_ACCOUNT = contextWords(['service_account']);

export const gcpServiceAccount: CharDetector = {
  kind: 'char',
  id: 'secret.gcp_service_account',
  type: 'GCP_SERVICE_ACCOUNT',
  triggers: '_',
  prev: 'e',
  next: 'k',
  maxLength: 40,
  at(text, i, report) {
    // Called at the first '_' of "private_key_id".
    const s = i - 7;
    if (s < 0 || text.charCodeAt(i + 1) !== 107 || !hasAt(text, s, KEY)) return;
    if (!hasContextWord(text, s - 400, s, SERVICE_ACCOUNT)) return;
    // "private_key_id": "<40 hex>"
    let j = s + KEY.length;
    const limit = Math.min(text.length, j + 8);
    while (j < limit && (text.charCodeAt(j) === 34 || text.charCodeAt(j) === 58 || text.charCodeAt(j) === 32 || text.charCodeAt(j) === 92)) j++;
    const end = runEnd(text, j, isHex, 41);
    if (end - j === 40 && !looksLikePlaceholder(text, j, end)) report(j, end);
  },
};
