// Azure storage and Service Bus/Event Hubs connection strings: the AccountKey= / SharedAccessKey= value
// (base64 of a 64- or 32-byte key). Only the key value is reported, so the account name stays readable.
import { isBase64Char } from './chars.ts';
import { prefixedToken } from './prefixed-token.ts';

export const azureStorageKey = prefixedToken({
  id: 'secret.azure_connection_string_key',
  type: 'AZURE_KEY',
  prefixes: ['AccountKey=', 'SharedAccessKey=', 'accountkey=', 'sharedaccesskey='],
  body: (c) => isBase64Char(c) || c === 61,
  minBody: 40,
  maxBody: 100,
  before: () => false,
  after: isBase64Char,
  reportBodyOnly: true,
  validate: (text, _s, b, end) => {
    let n = end;
    while (n > b && text.charCodeAt(n - 1) === 61) n--;
    return end - n <= 2 && (end - b) % 4 === 0;
  },
});
