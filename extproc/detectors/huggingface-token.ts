// Hugging Face user access tokens (hf_ + 34 letters) and organisation tokens (api_org_ + 34 letters).
import { classMix, isAlpha } from './chars.ts';
import { prefixedToken } from './prefixed-token.ts';

export const huggingfaceToken = prefixedToken({
  id: 'secret.huggingface_token',
  type: 'HUGGINGFACE_TOKEN',
  prefixes: ['hf_', 'api_org_'],
  body: isAlpha,
  minBody: 34,
  maxBody: 34,
  validate: (text, _s, b, end) => {
    const m = classMix(text, b, end);
    return m.upper >= 3 && m.lower >= 3;
  },
});
