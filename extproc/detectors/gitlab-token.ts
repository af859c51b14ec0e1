// GitLab tokens: personal, project/group (glpat-), pipeline trigger (glptt-), deploy (gldt-), runner (glrt-),
// CI job (glcbt-). Newer tokens carry ".<version>.<base36 crc>" segments, so '.' is allowed inside the body.
import { classMix, isAlnum } from './chars.ts';
import { prefixedToken } from './prefixed-token.ts';

export const gitlabToken = prefixedToken({
  id: 'secret.gitlab_token',
  type: 'GITLAB_TOKEN',
  prefixes: ['glpat-', 'glptt-', 'gldt-', 'glrt-', 'glcbt-', 'gloas-'],
  body: (c) => isAlnum(c) || c === 95 || c === 45 || c === 46,
  minBody: 20,
  maxBody: 100,
  trimTrailing: (c) => c === 46 || c === 45,
  validate: (text, _s, b, end) => {
    const m = classMix(text, b, end);
    return m.digit > 0 && m.upper + m.lower > 0;
  },
});
