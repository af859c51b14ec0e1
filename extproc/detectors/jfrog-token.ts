// JFrog: API keys ("AKCp" + 69 alphanumerics) and reference tokens (base64 of "reftkn:01:…", so they start
// "cmVmdGtuOjAxOj"; 64 characters). Identity tokens are JWTs (secret.jwt).
import { isAlnum, randomLooking } from './chars.ts';
import { prefixedKeywordToken } from './prefixed-token.ts';

export const jfrogToken = prefixedKeywordToken({
  id: 'secret.jfrog_token',
  type: 'JFROG_TOKEN',
  prefixes: ['AKCp', 'cmVmdGtuOjAxOj'],
  body: isAlnum,
  minBody: 50,
  maxBody: 69,
  validate: (text, start, b, end) => {
    if (text.charCodeAt(start) === 65) return end - b === 69 && randomLooking(text, b, end, 3, 4);
    return end - start === 64 && randomLooking(text, b, end, 3, 4);
  },
});
