// Alibaba Cloud RAM AccessKeys: the id ("LTAI" + 12-20 alphanumerics) and its 30-character secret, which has no
// prefix and is found as the value of a name that says Alibaba (`ALIBABA_CLOUD_ACCESS_KEY_SECRET=…`,
// `"aliyun_access_key_secret": "…"`, `AccessKeySecret: …`).
import { isAlnum, randomLooking } from './chars.ts';
import { namedValue } from './named-value.ts';
import { prefixedToken } from './prefixed-token.ts';

/** Triggered at the 'T' after an 'L' (upper case: rare in text). */
export const alibabaAccessKeyId = prefixedToken({
  id: 'secret.alibaba_access_key_id',
  type: 'ALIBABA_KEY',
  prefixes: ['LTAI'],
  triggerAt: 1,
  body: isAlnum,
  minBody: 12,
  maxBody: 20,
  validate: (text, _s, b, end) => randomLooking(text, b, end, 2, 3),
});

export const alibabaAccessKeySecret = namedValue({
  id: 'secret.alibaba_access_key_secret',
  type: 'ALIBABA_KEY',
  names: ['alibaba', 'aliyun', 'alicloud', 'accesskeysecret', 'access_key_secret'],
  body: isAlnum,
  lengths: [30],
  validate: (text, s, e) => randomLooking(text, s, e, 3, 4),
});
