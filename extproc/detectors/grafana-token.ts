// Grafana: Grafana Cloud access policy tokens ("glc_" + base64 of a JSON object) and service-account tokens
// ("glsa_" + 32 alphanumerics + "_" + 8 hex).
import { allChars, isAlnum, isBase64Char, isHex, randomLooking } from './chars.ts';
import { prefixedToken } from './prefixed-token.ts';

export const grafanaToken = prefixedToken({
  id: 'secret.grafana_token',
  type: 'GRAFANA_TOKEN',
  prefixes: ['glc_', 'glsa_'],
  body: (c) => isBase64Char(c) || c === 61 || c === 95,
  minBody: 41,
  maxBody: 1024,
  placeholders: false,
  validate: (text, start, b, end) => {
    if (text.charCodeAt(start + 2) === 115) {
      if (end - b !== 41 || text.charCodeAt(b + 32) !== 95) return false;
      if (!allChars(text, b, b + 32, isAlnum)) return false;
      if (!allChars(text, b + 33, end, isHex)) return false;
      return randomLooking(text, b, b + 32, 3, 4);
    }
    return end - b >= 48 && text.startsWith('eyJ', b) && Buffer.from(text.slice(b, b + 16), 'base64').toString('latin1').startsWith('{"');
  },
});
