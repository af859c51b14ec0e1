// The pipeline of MCP servers (kind mcp), registered when this module loads (session.ts imports it): the JSON-RPC
// message read with the body, policy over it, the tool pin, content controls, classification routing (which has
// no target for MCP: a DLP route action fails closed), request and tool-call limits, the server credential last,
// then the unverified mirrored headers removed; list answers read whole and filtered; denials as JSON-RPC errors.
import { DEFAULT_HANDLERS, registerPipeline } from './handlers.ts';
import type { MessageHandlers } from './pipeline.ts';
import { bufferListAnswer, filterMcpList, mcpFacts, mcpHeaders, mcpParse, mcpPolicy, mcpReply, mcpUsage, toolPin } from './steps/mcp.ts';
import { bodySize, classificationRoute, contentControls, injectCredential, requestProof } from './steps/request-body.ts';
import { onResponseBody, onResponseBodyThen, onResponseHeaders } from './steps/response.ts';

registerPipeline('mcp', {
  requestBody: Object.freeze([bodySize, requestProof, mcpParse, mcpPolicy, toolPin, contentControls, classificationRoute, mcpUsage, injectCredential, mcpHeaders]),
  handlers: Object.freeze<MessageHandlers>({
    ...DEFAULT_HANDLERS,
    response_headers: (req, h, headers) => onResponseHeaders(req, h, headers, { bufferStream: bufferListAnswer }),
    response_body: (req, b) => (req.mcp?.list === true ? onResponseBodyThen(req, b, filterMcpList) : onResponseBody(req, b)),
  }),
  reply: mcpReply,
  facts: mcpFacts,
});
