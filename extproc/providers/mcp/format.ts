// The JSON-RPC 2.0 body of an MCP request (kind mcp). Every string and key is scanned like any other body (tool
// arguments, prompt arguments, sampling results a client returns); the envelope's fields that route the message
// (method, the tool or prompt name, the resource URI, ids and cursors) may not change, since policy decided on
// them: a finding there blocks instead of masking (an argument that is itself called "name" or "uri" too). MCP
// bodies carry no model and no token usage.
import type { BodyFormatHandler } from '../formats/format.ts';
import { NO_OUTPUT } from '../shared/output-request.ts';

const ENVELOPE = new Set(['jsonrpc', 'id', 'method', 'name', 'uri', 'protocolVersion', 'progressToken', 'cursor', 'taskId']);

export const MCP_JSONRPC: BodyFormatHandler = {
  bodyModel: false,
  requestRules: () => ({ protectedKeys: ENVELOPE }),
  outputRequest: () => NO_OUTPUT,
  usage: () => undefined,
  streamUsage: () => undefined,
};
