// 1Password service-account tokens: "ops_" + base64 of a JSON object (so the body starts "eyJ"), 250 or more
// characters. The first block is decoded and must open a JSON object.
import { isBase64Char, isTokenChar, looksLikePlaceholder } from './chars.ts';
import { prefixedToken } from './prefixed-token.ts';

export const onepasswordToken = prefixedToken({
  id: 'secret.onepassword_token',
  type: 'ONEPASSWORD_TOKEN',
  prefixes: ['ops_'],
  body: (c) => isTokenChar(c) || isBase64Char(c) || c === 61,
  minBody: 250,
  maxBody: 4096,
  placeholders: false,
  // The JSON's first member is the same in every token, so the placeholder filter reads from character 64 on.
  validate: (text, _s, b, end) => text.startsWith('eyJ', b) && Buffer.from(text.slice(b, b + 16), 'base64').toString('latin1').startsWith('{"') && end - b >= 250 && !looksLikePlaceholder(text, b + 64, end),
});
