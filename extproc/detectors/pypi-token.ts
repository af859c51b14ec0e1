// PyPI upload tokens: "pypi-" + a base64url macaroon whose first bytes name the index: "AgEIcHlwaS5vcmc"
// (pypi.org) or "AgENdGVzdC5weXBpLm9yZw" (test.pypi.org), 70 or more characters in all.
import { isTokenChar, looksLikePlaceholder } from './chars.ts';
import { prefixedToken } from './prefixed-token.ts';

export const pypiToken = prefixedToken({
  id: 'secret.pypi_token',
  type: 'PYPI_TOKEN',
  prefixes: ['pypi-'],
  body: isTokenChar,
  minBody: 70,
  maxBody: 512,
  placeholders: false,
  // The head is fixed, so the placeholder filter reads what follows it (`pypi-AgEIcHlwaS5vcmcxxxx…`).
  validate: (text, _s, b, end) => {
    const head = text.startsWith('AgEIcHlwaS5vcmc', b) ? 15 : text.startsWith('AgENdGVzdC5weXBpLm9yZw', b) ? 22 : 0;
    return head > 0 && !looksLikePlaceholder(text, b + head, end);
  },
});
