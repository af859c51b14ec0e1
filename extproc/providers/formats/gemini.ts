// Gemini generateContent / streamGenerateContent / countTokens / embedContent (Vertex AI and the Gemini API).
// Parts marked `thought: true` are the model's signed reasoning: never emitted.
import type { SegmentRole } from '../../core/content.ts';
import { asArray, asCount, asObject, SegmentSink, type Json } from '../shared/json-walk.ts';
import { choiceCount, largestCap } from '../shared/output-request.ts';
import { sum, type UsageParts } from '../shared/usage.ts';
import type { BodyFormatHandler } from './format.ts';

function parts(sink: SegmentSink, content: Json, path: (string | number)[], role: SegmentRole): void {
  asArray(asObject(content)?.parts).forEach((p, j) => {
    const part = asObject(p);
    if (part === undefined || part.thought === true) return;
    const at = [...path, 'parts', j];
    sink.text(part.text, [...at, 'text'], role);
    if (part.functionCall !== undefined) sink.leaves(asObject(part.functionCall)?.args, [...at, 'functionCall', 'args'], 'tool_call');
    if (part.functionResponse !== undefined) sink.leaves(asObject(part.functionResponse)?.response, [...at, 'functionResponse', 'response'], 'tool');
  });
}

const roleOf = (r: Json): SegmentRole => (r === 'model' ? 'assistant' : r === 'function' ? 'tool' : 'user');

function usageOf(doc: Json): UsageParts | undefined {
  const u = asObject(asObject(doc)?.usageMetadata);
  if (u === undefined) return undefined;
  const input = asCount(u.promptTokenCount);
  const output = sum(asCount(u.candidatesTokenCount), asCount(u.thoughtsTokenCount));
  const total = asCount(u.totalTokenCount);
  if (input === undefined && output === undefined && total === undefined) return undefined;
  return { input, output, total };
}

function responseSegments(doc: Json, base: (string | number)[], sink: SegmentSink): void {
  asArray(asObject(doc)?.candidates).forEach((c, i) => { parts(sink, asObject(c)?.content, [...base, 'candidates', i, 'content'], 'assistant'); });
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
  requestSegments(doc) {
    const sink = new SegmentSink();
    parts(sink, doc.systemInstruction, ['systemInstruction'], 'system');
    asArray(doc.contents).forEach((c, i) => { parts(sink, c, ['contents', i], roleOf(asObject(c)?.role)); });
    parts(sink, doc.content, ['content'], 'user'); // embedContent
    return sink.out;
  },
  responseSegments(doc) {
    const sink = new SegmentSink();
    // streamGenerateContent without alt=sse answers one JSON array of chunks.
    if (Array.isArray(doc)) doc.forEach((chunk, k) => { responseSegments(chunk, [k], sink); });
    else responseSegments(doc, [], sink);
    return sink.out;
  },
  usage(doc) {
    if (!Array.isArray(doc)) return usageOf(doc);
    let last: UsageParts | undefined;
    for (const chunk of doc) last = usageOf(chunk) ?? last;
    return last;
  },
  streamUsage: (_event, doc) => usageOf(doc),
};
