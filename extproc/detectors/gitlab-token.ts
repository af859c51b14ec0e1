// GitLab tokens: personal, project/group (glpat-), pipeline trigger (glptt-), deploy (gldt-), runner (glrt-),
// CI job (glcbt-), OAuth application secrets (gloas-), feature-flag client (glffct-), feed (glft-), incoming
// mail (glimt-), agent for Kubernetes (glagent-), SCIM/OAuth (glsoat-). Newer tokens carry
// ".<version>.<base36 crc>" segments, so '.' is allowed inside the body. Also runner registration tokens
// (GR1348941 + 20) and the `_gitlab_session` cookie (32 hex).
import { boundaryAt, classMix, hasAt, isAlnum, isHexLower, isTokenChar, looksLikePlaceholder, runEnd } from './chars.ts';
import type { CharDetector } from './detector.ts';
import { prefixedToken } from './prefixed-token.ts';

export const gitlabToken = prefixedToken({
  id: 'secret.gitlab_token',
  type: 'GITLAB_TOKEN',
  prefixes: ['glpat-', 'glptt-', 'gldt-', 'glrt-', 'glcbt-', 'gloas-', 'glffct-', 'glft-', 'glimt-', 'glagent-', 'glsoat-'],
  body: (c) => isAlnum(c) || c === 95 || c === 45 || c === 46,
  minBody: 20,
  maxBody: 100,
  trimTrailing: (c) => c === 46 || c === 45,
  validate: (text, _s, b, end) => {
    const m = classMix(text, b, end);
    return m.digit > 0 && m.upper + m.lower > 0;
  },
});

export const gitlabSession = prefixedToken({
  id: 'secret.gitlab_session',
  type: 'GITLAB_TOKEN',
  prefixes: ['_gitlab_session='],
  body: isHexLower,
  minBody: 32,
  maxBody: 32,
  before: isTokenChar,
  reportBodyOnly: true,
});

const RUNNER = 'GR1348941';

/** Runner registration tokens: GR1348941 + 20 characters of [A-Za-z0-9_-]. */
export const gitlabRunnerToken: CharDetector = {
  kind: 'char',
  id: 'secret.gitlab_runner_token',
  type: 'GITLAB_TOKEN',
  triggers: 'G',
  next: 'R',
  maxLength: RUNNER.length + 20,
  at(text, i, report) {
    if (!hasAt(text, i, RUNNER) || !boundaryAt(text, i - 1, isTokenChar)) return;
    const b = i + RUNNER.length;
    const end = runEnd(text, b, isTokenChar, 21);
    if (end - b !== 20 || !boundaryAt(text, end, isTokenChar) || looksLikePlaceholder(text, b, end)) return;
    const m = classMix(text, b, end);
    if (m.digit > 0 && m.upper + m.lower > 0) report(i, end);
  },
};
