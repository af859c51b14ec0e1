// Doppler tokens: personal (dp.pt.), service (dp.st.[config.]), service account (dp.sa.), CLI (dp.ct.), SCIM
// (dp.scim.) and audit (dp.audit.), ending in 40-44 alphanumerics.
import { allChars, isAlnum, isTokenChar, randomLooking } from './chars.ts';
import { prefixedKeywordToken } from './prefixed-token.ts';

const KINDS = ['pt.', 'st.', 'sa.', 'ct.', 'scim.', 'audit.'];

/** Found by the scanner's keyword lookup ("dp."): its letters and its '.' are all common in text. */
export const dopplerToken = prefixedKeywordToken({
  id: 'secret.doppler_token',
  type: 'DOPPLER_TOKEN',
  prefixes: ['dp.'],
  body: (c) => isTokenChar(c) || c === 46,
  minBody: 43,
  maxBody: 130,
  trimTrailing: (c) => c === 46,
  validate: (text, _s, b, end) => {
    if (!KINDS.some((k) => text.startsWith(k, b))) return false;
    const last = text.lastIndexOf('.', end - 1);
    const t = last >= b ? last + 1 : b;
    if (end - t < 40 || end - t > 44) return false;
    return allChars(text, t, end, isAlnum) && randomLooking(text, t, end, 3, 4);
  },
});
