// The JSON-RPC 2.0 body of an MCP request (kind mcp). Every string and key is scanned like any other body (tool
// arguments, prompt arguments, sampling results a client returns); the envelope's fields that route the message
// may not change, so a finding there blocks instead of masking. MCP bodies carry no model and no token usage.
import type { BodyFormatHandler } from '../formats/format.ts';
import { NO_OUTPUT } from '../shared/output-request.ts';

const ENVELOPE = new Set(['jsonrpc', 'id', 'method', 'protocolVersion', 'progressToken', 'cursor', 'taskId']);

export const MCP_JSONRPC: BodyFormatHandler = {
  bodyModel: false,
  requestRules: () => ({ protectedKeys: ENVELOPE }),
  responseSegments: () => [],
  outputRequest: () => NO_OUTPUT,
  usage: () => undefined,
  streamUsage: () => undefined,
};
