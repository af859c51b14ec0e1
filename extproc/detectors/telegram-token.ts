// Telegram bot tokens: the bot id (8-10 digits), ':', then 35 characters of [A-Za-z0-9_-] starting "AA". The
// scanner calls at the ':' after a digit.
import { boundaryAt, isDigit, isTokenChar, randomLooking, runEnd, runStart } from './chars.ts';
import type { CharDetector } from './detector.ts';

export const telegramBotToken: CharDetector = {
  kind: 'char',
  id: 'secret.telegram_bot_token',
  type: 'TELEGRAM_TOKEN',
  triggers: ':',
  prev: '0123456789',
  next: 'A',
  maxLength: 46,
  at(text, i, report) {
    const s = runStart(text, i, isDigit, 11);
    if (i - s < 8 || i - s > 10 || !boundaryAt(text, s - 1, isTokenChar)) return;
    if (!text.startsWith('AA', i + 1)) return;
    const end = runEnd(text, i + 1, isTokenChar, 36);
    if (end - i - 1 !== 35 || !boundaryAt(text, end, isTokenChar)) return;
    if (randomLooking(text, i + 3, end, 3, 4)) report(s, end);
  },
};
