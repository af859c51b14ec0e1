// Slack tokens (bot, user, app, legacy workspace, refresh, configuration) and incoming-webhook URLs.
import { classMix, isAlnum } from './chars.ts';
import { prefixedToken } from './prefixed-token.ts';

export const slackToken = prefixedToken({
  id: 'secret.slack_token',
  type: 'SLACK_TOKEN',
  prefixes: ['xoxb-', 'xoxp-', 'xoxa-', 'xoxo-', 'xoxr-', 'xoxs-', 'xoxe-', 'xapp-'],
  body: (c) => isAlnum(c) || c === 45,
  minBody: 20,
  maxBody: 250,
  trimTrailing: (c) => c === 45,
  validate: (text, _s, b, end) => classMix(text, b, end).digit >= 4,
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
