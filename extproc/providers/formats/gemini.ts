// Gemini generateContent / streamGenerateContent / countTokens / embedContent (Vertex AI and the Gemini API).
// Parts marked `thought: true` are the model's signed reasoning: protected in requests (scanned, a finding
// blocks). Requests may spell every field in camelCase or as its proto name
// (snake_case): both are read alike.
import type { JsonPath, SegmentRole } from '../../core/content.ts';
import { asCount, asObject, asString, type Json } from '../shared/json-walk.ts';
import { choiceCount, largestCap } from '../shared/output-request.ts';
import { requestProtectedKeys } from '../shared/protected-fields.ts';
import { isRemoteUrl, type ServerTool, type WalkRules } from '../shared/request-walk.ts';
import type { JsonObject } from '../shared/strict-json.ts';
import { sum, type UsageParts } from '../shared/usage.ts';
import type { BodyFormatHandler } from './format.ts';

const roleOf = (r: Json): SegmentRole => (r === 'model' ? 'assistant' : r === 'function' ? 'tool' : 'user');

/** A field name as Gemini's JSON mapping reads it: proto snake_case names are aliases of the camelCase ones. */
export function geminiKey(k: string): string {
  return k.includes('_') ? k.replace(/_([a-z0-9])/g, (_m, c: string) => c.toUpperCase()) : k;
}

const TOOLS: Readonly<Record<string, ServerTool | undefined>> = {
  functionDeclarations: undefined,
  googleSearch: 'web_search',
  googleSearchRetrieval: 'web_search',
  enterpriseWebSearch: 'web_search',
  urlContext: 'web_fetch',
  codeExecution: 'code_execution',
  computerUse: 'computer_use',
  retrieval: 'file_search',
  fileSearch: 'file_search',
};

function serverTools(o: JsonObject): ServerTool[] {
  const out: ServerTool[] = [];
  for (const k of Object.keys(o)) {
    const n = geminiKey(k);
    const tool = Object.hasOwn(TOOLS, n) ? TOOLS[n] : 'other';
    if (tool !== undefined) out.push(tool);
  }
  return out;
}

// Files uploaded through the Gemini API's Files endpoint are the provider's own storage, not a fetch.
const FILES_API = /^https:\/\/generativelanguage\.googleapis\.com\//i;

/**
 * The path relative to one request: countTokens wraps a generateContent request in `generateContentRequest`,
 * batchEmbedContents lists requests in `requests`.
 */
function relative(path: JsonPath): number {
  const first = path[0];
  if (typeof first === 'string' && geminiKey(first) === 'generateContentRequest') return 1;
  return first === 'requests' && typeof path[1] === 'number' ? 2 : 0;
}

const keyAt = (path: JsonPath, i: number): string | number | undefined => {
  const k = path.at(i);
  return typeof k === 'string' ? geminiKey(k) : k;
};

/**
 * The length of the path of the part `path` is in or at (-1 if none): parts are at contents[i].parts[j],
 * systemInstruction.parts[j] and content.parts[j] (embedContent), never inside function arguments.
 */
function partAt(path: JsonPath, b: number): number {
  const n = path.length - b;
  if (n >= 4 && keyAt(path, b) === 'contents' && typeof path[b + 1] === 'number' && keyAt(path, b + 2) === 'parts' && typeof path[b + 3] === 'number') return b + 4;
  if (n >= 3 && (keyAt(path, b) === 'systemInstruction' || keyAt(path, b) === 'content') && keyAt(path, b + 1) === 'parts' && typeof path[b + 2] === 'number') return b + 3;
  return -1;
}

/**
 * Gemini bodies, in either spelling. Protected: the request rows of the gemini table (thought signatures,
 * function call/response ids, the cached content name), whole `thought: true` parts. Inline media: `inlineData.data` (decoded and scanned when `mimeType`
 * is text). Provider fetches:
 * `fileData.fileUri` outside the Files API. Server tools: every tool entry but `functionDeclarations`.
 */
export const GEMINI_RULES: WalkRules = {
  protectedKeys: requestProtectedKeys('gemini'),
  key: geminiKey,
  object(o, path) {
    const b = relative(path);
    const n = path.length - b;
    if (n === 2 && keyAt(path, b) === 'tools') return { tools: serverTools(o) };
    if (n === 1 && keyAt(path, b) === 'systemInstruction') return { role: 'system' };
    if (n === 1 && keyAt(path, b) === 'content') return { role: 'user' };
    if (n === 2 && keyAt(path, b) === 'contents') return { role: roleOf(o.role) };
    const part = partAt(path, b);
    if (part === path.length) return o.thought === true ? { protect: true } : undefined;
    if (part < 0 || part !== path.length - 1) return undefined; // only the members of a part are read
    const last = keyAt(path, -1);
    if (last === 'functionCall' || last === 'executableCode') return { role: 'tool_call' };
    if (last === 'functionResponse' || last === 'codeExecutionResult') return { role: 'tool' };
    if (last === 'inlineData') return { media: 'data', mediaType: asString(o.mimeType ?? o.mime_type) };
    if (last === 'fileData') {
      const uri = o.fileUri ?? o.file_uri;
      return { fetch: isRemoteUrl(uri) && !(typeof uri === 'string' && FILES_API.test(uri)) };
    }
    return undefined;
  },
};

function usageOf(doc: Json): UsageParts | undefined {
  const u = asObject(asObject(doc)?.usageMetadata);
  if (u === undefined) return undefined;
  const input = asCount(u.promptTokenCount);
  const output = sum(asCount(u.candidatesTokenCount), asCount(u.thoughtsTokenCount));
  const total = asCount(u.totalTokenCount);
  if (input === undefined && output === undefined && total === undefined) return undefined;
  return { input, output, total };
}

export const GEMINI: BodyFormatHandler = {
  bodyModel: true,
  // The Gemini API reads proto JSON: the config and its fields in camelCase or snake_case alike.
  outputRequest(doc) {
    const configs = [asObject(doc.generationConfig), asObject(doc.generation_config)];
    return {
      maxTokens: largestCap(...configs.flatMap((c) => [c?.maxOutputTokens, c?.max_output_tokens])),
      choices: choiceCount(...configs.flatMap((c) => [c?.candidateCount, c?.candidate_count])),
    };
  },
  requestRules: () => GEMINI_RULES,
  usage(doc) {
    if (!Array.isArray(doc)) return usageOf(doc);
    let last: UsageParts | undefined;
    for (const chunk of doc) last = usageOf(chunk) ?? last;
    return last;
  },
  streamUsage: (_event, doc) => usageOf(doc),
};
