// Amazon Bedrock API keys. Long-term keys are "ABSK" + base64 of "BedrockAPIKey-<id>-at-<account>:<secret>";
// short-term keys are "bedrock-api-key-" + base64 of a presigned "bedrock.amazonaws.com/?Action=CallWithBearerToken…"
// URL. Both are decoded and must carry that text, so other ABSK… strings do not match. The body is base64, so
// the shared placeholder filter is off; a body that spells EXAMPLE (as AWS documentation samples do) is refused.
import { isBase64Char } from './chars.ts';
import { prefixedToken } from './prefixed-token.ts';

const decodedStartsWith = (text: string, b: number, end: number, lit: string): boolean =>
  Buffer.from(text.slice(b, Math.min(end, b + Math.ceil((lit.length * 4) / 3) + 4)), 'base64').toString('latin1').startsWith(lit);

export const bedrockApiKey = prefixedToken({
  id: 'secret.bedrock_api_key',
  type: 'BEDROCK_API_KEY',
  prefixes: ['ABSK', 'bedrock-api-key-'],
  body: (c) => isBase64Char(c) || c === 61,
  minBody: 40,
  maxBody: 4096,
  before: (c) => isBase64Char(c) || c === 45,
  after: isBase64Char,
  placeholders: false,
  validate: (text, start, b, end) =>
    (text.charCodeAt(start) === 65 ? decodedStartsWith(text, b, end, 'BedrockAPIKey-') : decodedStartsWith(text, b, end, 'bedrock.amazonaws.com/')) &&
    !text.slice(b, end).includes('EXAMPLE'),
});
