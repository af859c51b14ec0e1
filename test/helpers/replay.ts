// A provider stand-in that replays recorded provider responses (test/fixtures/providers/), chosen by
// path and model, so the stack is exercised with bodies real providers send.
import { readFileSync } from 'node:fs';
import type { CannedResponse, RecordedRequest, Responder } from '../../extproc/dev/fake-upstream.ts';

const FIXTURES = new URL('../fixtures/providers/', import.meta.url);

export function recorded(path: string): Buffer {
  return readFileSync(new URL(path, FIXTURES));
}

const json = (status: number, path: string): CannedResponse => ({ status, headers: { 'content-type': 'application/json' }, body: recorded(path) });

/** Splits a recorded SSE transcript into its events, so they are written as separate chunks. */
function sseEvents(path: string): string[] {
  return recorded(path).toString('utf8').split(/(?<=\n\n)/).filter((e) => e !== '');
}

/** Replays recorded responses; requests without the expected provider credential get the recorded 401. */
export function replayResponder(expect: { bearer: string; anthropicKey: string }): Responder {
  return (req: RecordedRequest): CannedResponse => {
    if (req.path.endsWith('/messages')) {
      if (req.headers['x-api-key'] !== expect.anthropicKey) return json(401, 'anthropic/error-overloaded.json');
      return json(200, 'anthropic/messages.json');
    }
    if (req.headers.authorization !== `Bearer ${expect.bearer}`) return json(401, 'openai/error-invalid-api-key.json');
    const body = JSON.parse(req.body.toString('utf8') || '{}') as { model?: string; stream?: boolean };
    if (req.path.endsWith('/embeddings')) return json(200, 'openai/embeddings.json');
    if (body.model === 'gpt-4o-revoked') return json(401, 'openai/error-invalid-api-key.json');
    if (body.stream === true) return { status: 200, headers: { 'content-type': 'text/event-stream' }, body: sseEvents('openai/chat-completion-stream.txt') };
    return json(200, 'openai/chat-completion.json');
  };
}
