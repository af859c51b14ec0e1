// The chat completion request the ext_proc tests send, as Envoy's ext_proc filter shows its headers.

export const CHAT_PATH = '/openai/v1/chat/completions';

/** The pseudo-headers and content type of a chat completion through Envoy (callers add the rest). */
export const CHAT_REQUEST_HEADERS: Readonly<Record<string, string>> = Object.freeze({
  ':authority': 'tollgate.test',
  ':method': 'POST',
  ':path': CHAT_PATH,
  ':scheme': 'http',
  'content-type': 'application/json',
});
