// Datadog API keys (32 lowercase hex) and application keys (40 lowercase hex): no prefix, so only as the value
// of a name that says Datadog (`DD_API_KEY=…`, `DD-APPLICATION-KEY: …`, `datadog_api_key: …`).
import { isHexLower, randomLooking } from './chars.ts';
import { namedValue } from './named-value.ts';

export const datadogKey = namedValue({
  id: 'secret.datadog_key',
  type: 'DATADOG_KEY',
  names: ['datadog', 'dd_api', 'dd-api', 'dd_app', 'dd-app'],
  body: isHexLower,
  lengths: [32, 40],
  validate: (text, s, e) => randomLooking(text, s, e, 2, 3),
});
