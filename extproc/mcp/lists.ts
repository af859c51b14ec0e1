// List answers shown as the caller's grants allow: tools/list, prompts/list, resources/list and
// resources/templates/list, answered as one JSON document or as an SSE stream of JSON-RPC messages. An item
// Tollgate cannot name (no string name or URI) is hidden: what cannot be classified is not shown. A body that is
// not a JSON-RPC answer Tollgate can read is refused (the list would otherwise pass unfiltered).
import { TollgateError } from '../errors.ts';
import { DEFAULT_MAX_DEPTH, parseStrictJson, type JsonObject, type JsonValue } from '../providers/shared/strict-json.ts';
import { parseEvent, splitEvents } from '../redactors/sse-events.ts';
import { LIST_METHODS, type McpTarget } from './protocol.ts';

export interface ListItem {
  readonly target: Exclude<McpTarget, 'task'>;
  readonly name: string;
  /** The whole item as the server sent it (a tool's definition, for pinning). Read only. */
  readonly item: JsonObject;
}

export interface ListFilter {
  /** Called with the items of each list message before it is filtered (pinning observes tool definitions here). */
  observe?(items: readonly ListItem[]): Promise<void> | void;
  /** Whether the caller may see the item. */
  keep(item: ListItem): boolean;
}

export interface FilteredList {
  /** The new body, or undefined when nothing was hidden. */
  readonly body: Buffer | undefined;
  /**
   * A JSON answer's document as the client receives it (filtered, and what `body` serializes when set), so the
   * response scan reads it instead of parsing the body again. Undefined for an SSE answer.
   */
  readonly document: JsonValue | undefined;
  readonly shown: number;
  readonly hidden: number;
}

const isObject = (v: JsonValue | undefined): v is JsonObject => typeof v === 'object' && v !== null && !Array.isArray(v);
const unreadable = (why: string): TollgateError => new TollgateError('response_leak', `the MCP list answer could not be read: ${why}`);

/** Filters one JSON-RPC message in place; returns counts, or undefined when it is not the list's result. */
async function filterMessage(msg: JsonValue, method: string, filter: ListFilter): Promise<{ shown: number; hidden: number } | undefined> {
  const spec = LIST_METHODS[method];
  if (spec === undefined || !isObject(msg) || !isObject(msg.result)) return undefined;
  const list = msg.result[spec.key];
  if (list === undefined) return undefined;
  if (!Array.isArray(list)) throw unreadable(`result.${spec.key} is not a list`);
  const items: (ListItem | undefined)[] = list.map((item) => {
    if (!isObject(item)) return undefined;
    const name = item[spec.nameKey];
    return typeof name === 'string' && name !== '' ? { target: spec.target as ListItem['target'], name, item } : undefined;
  });
  await filter.observe?.(items.filter((i): i is ListItem => i !== undefined));
  const kept = list.filter((_, k) => {
    const i = items[k];
    return i !== undefined && filter.keep(i);
  });
  msg.result[spec.key] = kept;
  return { shown: kept.length, hidden: list.length - kept.length };
}

/**
 * Filters a buffered list answer. `sse`: the body is an SSE stream (events whose data is one JSON-RPC message;
 * the result is in one of them, notifications may come first). Throws response_leak (the response is refused,
 * never passed unfiltered) when the body cannot be read.
 */
export async function filterListAnswer(body: Buffer, sse: boolean, method: string, filter: ListFilter): Promise<FilteredList> {
  const parse = (text: string | Buffer): JsonValue => {
    try {
      return parseStrictJson(text, DEFAULT_MAX_DEPTH, 'allow');
    } catch {
      throw unreadable('not JSON');
    }
  };
  if (!sse) {
    const doc = parse(body);
    const r = await filterMessage(doc, method, filter);
    if (r === undefined) return { body: undefined, document: doc, shown: 0, hidden: 0 };
    return { body: r.hidden === 0 ? undefined : Buffer.from(JSON.stringify(doc), 'utf8'), document: doc, ...r };
  }
  const { events, rest } = splitEvents(body.length > 0 && !body.toString('latin1').endsWith('\n\n') ? Buffer.concat([body, Buffer.from('\n\n')]) : body);
  if (rest.toString('utf8').trim() !== '') throw unreadable('a partial SSE event');
  let shown = 0;
  let hidden = 0;
  const out: string[] = [];
  for (const raw of events) {
    const text = raw.toString('utf8');
    const ev = parseEvent(text);
    if (ev === undefined || ev.data === '') {
      out.push(text);
      continue;
    }
    const doc = parse(ev.data);
    const r = await filterMessage(doc, method, filter);
    if (r === undefined || r.hidden === 0) {
      shown += r?.shown ?? 0;
      out.push(text);
      continue;
    }
    shown += r.shown;
    hidden += r.hidden;
    // The same event with its data replaced (one line: JSON.stringify leaves no newline).
    const lines = text.replace(/(\r?\n)+$/, '').split(/\r?\n/).filter((l) => !l.startsWith('data:'));
    out.push(`${[...lines, `data: ${JSON.stringify(doc)}`].join('\n')}\n\n`);
  }
  return { body: hidden === 0 ? undefined : Buffer.from(out.join(''), 'utf8'), document: undefined, shown, hidden };
}
