// Notion integration tokens: "ntn_" + 46 alphanumerics.
import { isAlnum, randomLooking } from './chars.ts';
import { prefixedToken } from './prefixed-token.ts';

export const notionToken = prefixedToken({
  id: 'secret.notion_token',
  type: 'NOTION_TOKEN',
  prefixes: ['ntn_'],
  body: isAlnum,
  minBody: 46,
  maxBody: 46,
  validate: (text, _s, b, end) => randomLooking(text, b, end, 3, 4),
});
