// Databricks personal access tokens: "dapi" + 32 lowercase hex, optionally "-" and a digit.
import { allChars, isDigit, isHexLower, randomLooking } from './chars.ts';
import { prefixedKeywordToken } from './prefixed-token.ts';

export const databricksToken = prefixedKeywordToken({
  id: 'secret.databricks_token',
  type: 'DATABRICKS_TOKEN',
  prefixes: ['dapi'],
  body: (c) => isHexLower(c) || c === 45,
  minBody: 32,
  maxBody: 34,
  validate: (text, _s, b, end) => {
    if (!allChars(text, b, b + 32, isHexLower)) return false;
    if (end - b !== 32 && !(end - b === 34 && text.charCodeAt(b + 32) === 45 && isDigit(text.charCodeAt(b + 33)))) return false;
    return randomLooking(text, b, b + 32, 2, 3);
  },
});
