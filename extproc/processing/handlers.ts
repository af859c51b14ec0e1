// The declared handler of each ext_proc message type, and the pipeline each provider kind runs.
import { TollgateError } from '../errors.ts';
import type { HttpBody, ProcessingResponse } from '../wire/ext-proc.ts';
import { runSteps, type Answer, type BodyWork, type MessageHandlers, type Pipeline } from './pipeline.ts';
import { isAdmitted, type Admitted, type ProcRequest } from './request.ts';
import { requestBodyResponse } from './responses.ts';
import { onRequestHeaders } from './steps/request-headers.ts';
import { REQUEST_BODY_STEPS } from './steps/request-body.ts';
import { onResponseBody, onResponseHeaders } from './steps/response.ts';

/**
 * Request body (BUFFERED, whole): the pipeline's request steps in order, then one answer carrying the
 * header mutations, the new body and, when rerouted, `clear_route_cache`. When Envoy skips the request
 * headers this is the stream's first message (the Session opened the request from it).
 */
export function onRequestBody(req: ProcRequest, b: HttpBody, pipeline: Pipeline): Answer | Promise<Answer> {
  if (req.position !== 'request_body') throw new TollgateError('protocol_violation', `request body at position ${req.position}`);
  if (!isAdmitted(req)) throw new TollgateError('protocol_violation', 'request body before the request was authorized');
  if (b.end_of_stream !== true) throw new TollgateError('protocol_violation', 'request body must arrive BUFFERED (end_of_stream in one message)');
  const work: BodyWork = { body: b.body ?? EMPTY, replaced: undefined, rerouted: undefined, credential: undefined };
  const denial = runSteps(pipeline.requestBody, req, work);
  if (denial instanceof Promise) return denial.then((d) => d ?? forward(req, work));
  return denial ?? forward(req, work);
}

const EMPTY = Buffer.alloc(0);

/** Every step passed: the request goes to the provider, with the credential and whatever the steps changed. */
function forward(req: Admitted, w: BodyWork): ProcessingResponse {
  req.position = 'upstream';
  req.usage.forwarded = true;
  const edits = w.credential ?? {};
  const routed = w.rerouted;
  if (routed === undefined) return requestBodyResponse(edits, w.replaced);
  // Envoy re-picks the route on the route header: clear_route_cache counts in request-direction answers.
  const answer = requestBodyResponse({ set: [...(edits.set ?? []), ...routed.set], remove: [...(edits.remove ?? []), ...routed.remove] }, w.replaced);
  const common = answer.request_body?.response;
  return common === undefined ? answer : { request_body: { response: { ...common, clear_route_cache: true } } };
}

/** The handlers every provider kind uses unless its pipeline names its own. */
export const DEFAULT_HANDLERS: MessageHandlers = Object.freeze({
  request_headers: onRequestHeaders,
  request_body: onRequestBody,
  response_headers: onResponseHeaders,
  response_body: onResponseBody,
});

export const DEFAULT_PIPELINE: Pipeline = Object.freeze({ requestBody: REQUEST_BODY_STEPS, handlers: DEFAULT_HANDLERS });

const pipelines = new Map<string, Pipeline>();

/**
 * A provider kind's own pipeline (its request-body steps, its message handlers), by kind name; kinds
 * without one run DEFAULT_PIPELINE. Registered at module load by the kind's processing module.
 */
export function registerPipeline(kind: string, pipeline: Pipeline): void {
  if (pipelines.has(kind)) throw new Error(`a pipeline for provider kind ${kind} is already registered`);
  pipelines.set(kind, pipeline);
}

/** The pipeline of the request's provider (the default until the request is opened). */
export function pipelineFor(req: ProcRequest): Pipeline {
  const kind = req.route?.provider.config.kind;
  return kind === undefined ? DEFAULT_PIPELINE : (pipelines.get(kind) ?? DEFAULT_PIPELINE);
}
