// PyPI upload tokens: "pypi-" + a base64url macaroon whose first bytes name the index: "AgEIcHlwaS5vcmc"
// (pypi.org) or "AgENdGVzdC5weXBpLm9yZw" (test.pypi.org), 70 or more characters in all.
import { isTokenChar } from './chars.ts';
import { prefixedToken } from './prefixed-token.ts';

export const pypiToken = prefixedToken({
  id: 'secret.pypi_token',
  type: 'PYPI_TOKEN',
  prefixes: ['pypi-'],
  body: isTokenChar,
  minBody: 70,
  maxBody: 512,
  placeholders: false,
  validate: (text, _s, b) => text.startsWith('AgEIcHlwaS5vcmc', b) || text.startsWith('AgENdGVzdC5weXBpLm9yZw', b),
});
