// JFrog: API keys ("AKCp" + 69 alphanumerics, found by the scanner's keyword lookup: 'p' is common in text) and
// reference tokens (base64 of "reftkn:01:…", so they start "cmVmdGtuOjAxOj"; 64 characters; the scanner calls at
// that prefix's rare 'j'). Identity tokens are JWTs (secret.jwt).
import { isAlnum, randomLooking } from './chars.ts';
import { prefixedKeywordToken, prefixedToken } from './prefixed-token.ts';

export const jfrogToken = prefixedKeywordToken({
  id: 'secret.jfrog_token',
  type: 'JFROG_TOKEN',
  prefixes: ['AKCp'],
  body: isAlnum,
  minBody: 69,
  maxBody: 69,
  validate: (text, _s, b, end) => randomLooking(text, b, end, 3, 4),
});

export const jfrogReferenceToken = prefixedToken({
  id: 'secret.jfrog_reference_token',
  type: 'JFROG_TOKEN',
  prefixes: ['cmVmdGtuOjAxOj'],
  body: isAlnum,
  minBody: 50,
  maxBody: 50,
  validate: (text, _s, b, end) => randomLooking(text, b, end, 3, 4),
});
