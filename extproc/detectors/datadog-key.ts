// Datadog API keys (32 lowercase hex) and application keys (40 lowercase hex): no prefix, so only within 80
// characters after "datadog", "dd_api_key", "dd_app_key", "dd_application_key", "dd-api-key" or
// "dd-application-key".
import { boundaryAt, isHexLower, randomLooking, reportRunAfter } from './chars.ts';
import type { KeywordDetector } from './detector.ts';

export const datadogKey: KeywordDetector = {
  kind: 'keyword',
  id: 'secret.datadog_key',
  type: 'DATADOG_KEY',
  maxLength: 40,
  keywords: ['datadog', 'dd_api_key', 'dd_app_key', 'dd_application_key', 'dd-api-key', 'dd-application-key'],
  atKeyword(text, i, keyword, report) {
    if (!boundaryAt(text, i - 1)) return;
    const ok = (s: number, e: number): boolean => (e - s === 32 || e - s === 40) && randomLooking(text, s, e, 2, 3);
    reportRunAfter(text, i + keyword.length, 80, isHexLower, 32, 40, ok, report);
  },
};
