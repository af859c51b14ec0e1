// GitHub tokens. The prefixed formats (ghp_, gho_, ghu_, ghs_, ghr_) end in a base62 CRC32 of their random
// part, which is checked: a token whose checksum fails is not a GitHub token (and documentation samples fail it).
// Fine-grained PATs (github_pat_<22>_<59>) have no published checksum: length and alphabet only.
import { isAlnum, isTokenChar } from './chars.ts';
import { prefixedToken } from './prefixed-token.ts';
import { crc32Base62Valid } from './validators.ts';

export const githubToken = prefixedToken({
  id: 'secret.github_token',
  type: 'GITHUB_TOKEN',
  prefixes: ['ghp_', 'gho_', 'ghu_', 'ghs_', 'ghr_'],
  body: isAlnum,
  minBody: 36,
  maxBody: 36,
  validate: (text, start, _b, end) => crc32Base62Valid(text.slice(start, end), 4),
});

export const githubFineGrainedToken = prefixedToken({
  id: 'secret.github_fine_grained_token',
  type: 'GITHUB_TOKEN',
  prefixes: ['github_pat_'],
  body: (c) => isAlnum(c) || c === 95,
  minBody: 82,
  maxBody: 82,
  after: isTokenChar,
  validate: (text, _s, b, end) => {
    for (let i = b; i < end; i++) if ((text.charCodeAt(i) === 95) !== (i === b + 22)) return false;
    return true;
  },
});
