// Slack tokens (bot, user, app, legacy workspace, refresh, configuration) and incoming-webhook URLs.
import { classMix, isAlnum, isDigit } from './chars.ts';
import { prefixedToken } from './prefixed-token.ts';

/**
 * Bot and user tokens (`xoxb-`, `xoxp-`) are numeric ids (team, user, app: 8 digits or more; a rotating token
 * starts with a one-digit version, `xoxp-1-…`) followed by the secret part, which has letters. Ids like
 * `1234-1234-1234` are written by hand, and a token cut before its secret (`xoxp-<ids>-####`) is not one.
 */
function botOrUserShape(text: string, start: number, b: number, end: number): boolean {
  const kind = text.charCodeAt(start + 3);
  if (kind !== 98 && kind !== 112) return true;
  let s = b;
  let letters = false;
  for (let k = b; k <= end; k++) {
    if (k < end && text.charCodeAt(k) !== 45) {
      if (!isDigit(text.charCodeAt(k))) letters = true;
      continue;
    }
    const last = k === end;
    if (!letters && !last && k - s < 8 && !(s === b && k - s === 1)) return false;
    if (last) return letters;
    s = k + 1;
    letters = false;
  }
  return false;
}

export const slackToken = prefixedToken({
  id: 'secret.slack_token',
  type: 'SLACK_TOKEN',
  prefixes: ['xoxb-', 'xoxp-', 'xoxa-', 'xoxo-', 'xoxr-', 'xoxs-', 'xoxe-', 'xapp-'],
  body: (c) => isAlnum(c) || c === 45,
  minBody: 20,
  maxBody: 250,
  trimTrailing: (c) => c === 45,
  validate: (text, s, b, end) => classMix(text, b, end).digit >= 4 && botOrUserShape(text, s, b, end),
});

/** https://hooks.slack.com/services/T…/B…/… : the finding covers host and path, the scheme stays. */
export const slackWebhook = prefixedToken({
  id: 'secret.slack_webhook',
  type: 'SLACK_WEBHOOK',
  prefixes: ['hooks.slack.com/services/', 'hooks.slack.com/workflows/', 'hooks.slack.com/triggers/'],
  body: (c) => isAlnum(c) || c === 47 || c === 95,
  minBody: 20,
  maxBody: 120,
  before: (c) => isAlnum(c) || c === 46,
  trimTrailing: (c) => c === 47,
  validate: (text, _s, b, end) => text.slice(b, end).includes('/'),
});
