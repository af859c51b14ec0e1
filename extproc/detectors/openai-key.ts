// OpenAI API keys: sk-proj-, sk-svcacct-, sk-admin-, and legacy sk-<48>. A key counts when it carries
// OpenAI's "T3BlbkFJ" marker (base64 of "OpenAI"), or has a project/service-account/admin prefix and a long,
// mixed body. "sk-ant-" belongs to the Anthropic detector.
import { classMix, hasAt, isAlnum } from './chars.ts';
import { prefixedToken } from './prefixed-token.ts';

const SCOPED = ['proj-', 'svcacct-', 'admin-'];

export const openaiKey = prefixedToken({
  id: 'secret.openai_api_key',
  type: 'OPENAI_KEY',
  prefixes: ['sk-'],
  body: (c) => isAlnum(c) || c === 45 || c === 95,
  minBody: 32,
  maxBody: 256,
  validate: (text, _s, b, end) => {
    if (hasAt(text, b, 'ant-')) return false;
    const body = text.slice(b, end);
    if (body.includes('T3BlbkFJ')) return true;
    if (!SCOPED.some((p) => body.startsWith(p)) || body.length < 40) return false;
    const m = classMix(text, b, end);
    return m.digit > 0 && m.upper > 0 && m.lower > 0;
  },
});
