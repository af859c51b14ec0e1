// The error catalogue and the client error body.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { status as GrpcStatus } from '@grpc/grpc-js';
import { clientErrorBody, ERROR_CATALOGUE, GENERIC_CLIENT_MESSAGE, toTollgateError, TollgateError, type ErrorCode } from '../../extproc/errors.ts';

const CODES = Object.keys(ERROR_CATALOGUE) as ErrorCode[];
const GRPC_STATUSES = new Set(Object.values(GrpcStatus).filter((v) => typeof v === 'number'));

interface ClientBody {
  readonly error: { readonly type: string; readonly code: string; readonly message: string; readonly request_id?: string };
}
const parseBody = (text: string): ClientBody => JSON.parse(text) as ClientBody;

describe('error catalogue', () => {
  it('has entries', () => {
    assert.ok(CODES.length >= 10);
    assert.ok(Object.isFrozen(ERROR_CATALOGUE));
  });

  for (const code of CODES) {
    const e = ERROR_CATALOGUE[code];
    it(`${code}: snake_case code, 4xx/5xx HTTP status, a non-OK gRPC status, a message`, () => {
      assert.match(code, /^[a-z][a-z0-9]*(_[a-z0-9]+)*$/);
      assert.ok(Number.isInteger(e.httpStatus) && e.httpStatus >= 400 && e.httpStatus <= 599, `httpStatus ${e.httpStatus}`);
      assert.ok(GRPC_STATUSES.has(e.grpcStatus), `grpcStatus ${e.grpcStatus} is a gRPC status`);
      assert.notEqual(e.grpcStatus, GrpcStatus.OK);
      assert.equal(typeof e.userFacing, 'boolean');
      assert.ok(e.message.trim().length > 0);
      assert.notEqual(e.message, GENERIC_CLIENT_MESSAGE);
      assert.ok(Object.isFrozen(e));
    });

    it(`${code}: the client body is JSON with error.code and ${e.userFacing ? 'the catalogue message' : 'only the generic message'}`, () => {
      const text = clientErrorBody(code, 'req-123');
      const body = parseBody(text);
      assert.equal(body.error.code, code);
      assert.equal(body.error.type, 'tollgate_error');
      assert.equal(body.error.request_id, 'req-123');
      if (e.userFacing) assert.equal(body.error.message, e.message);
      else {
        assert.equal(body.error.message, GENERIC_CLIENT_MESSAGE);
        assert.ok(!text.includes(e.message), 'the internal message never reaches the client');
      }
    });
  }

  it('userFacing is true for some entries and false for others (the table is not trivial)', () => {
    assert.ok(CODES.some((c) => ERROR_CATALOGUE[c].userFacing));
    assert.ok(CODES.some((c) => !ERROR_CATALOGUE[c].userFacing));
  });

  const statusTable: readonly [ErrorCode, number, GrpcStatus][] = [
    ['unauthenticated', 401, GrpcStatus.UNAUTHENTICATED],
    ['provider_forbidden', 403, GrpcStatus.PERMISSION_DENIED],
    ['provider_unknown', 404, GrpcStatus.NOT_FOUND],
    ['body_too_large', 413, GrpcStatus.RESOURCE_EXHAUSTED],
    ['credential_unavailable', 503, GrpcStatus.UNAVAILABLE],
    ['internal', 500, GrpcStatus.INTERNAL],
  ];
  for (const [code, http, grpc] of statusTable) {
    it(`${code} is HTTP ${http}`, () => {
      assert.equal(ERROR_CATALOGUE[code].httpStatus, http);
      assert.equal(ERROR_CATALOGUE[code].grpcStatus, grpc);
    });
  }
});

describe('clientErrorBody', () => {
  it('omits request_id when none is given', () => {
    const body = parseBody(clientErrorBody('unauthenticated', undefined));
    assert.ok(!('request_id' in body.error));
    assert.deepEqual(Object.keys(body.error).sort(), ['code', 'message', 'type']);
  });

  it('keeps an empty request id (given is given)', () => {
    assert.equal(parseBody(clientErrorBody('unauthenticated', '')).error.request_id, '');
  });

  it('escapes a hostile request id and stays valid JSON', () => {
    const hostile = '"}, "admin": true, "x": "\n\u2028';
    const body = parseBody(clientErrorBody('internal', hostile));
    assert.equal(body.error.request_id, hostile);
    assert.deepEqual(Object.keys(body), ['error']);
  });
});

describe('TollgateError', () => {
  it('carries its code, detail and catalogue entry', () => {
    const cause = new Error('root');
    const err = new TollgateError('model_forbidden', 'gpt-5 for agent-1', { cause });
    assert.equal(err.code, 'model_forbidden');
    assert.equal(err.detail, 'gpt-5 for agent-1');
    assert.equal(err.message, 'model_forbidden: gpt-5 for agent-1');
    assert.equal(err.entry, ERROR_CATALOGUE.model_forbidden);
    assert.equal(err.cause, cause);
    assert.equal(err.name, 'TollgateError');
    assert.equal(new TollgateError('internal').message, 'internal');
    assert.equal(new TollgateError('internal').detail, undefined);
  });

  it('toTollgateError passes a TollgateError through and wraps anything else as internal', () => {
    const own = new TollgateError('body_too_large');
    assert.equal(toTollgateError(own), own);
    const wrapped = toTollgateError(new RangeError('boom'));
    assert.equal(wrapped.code, 'internal');
    assert.ok(wrapped.cause instanceof RangeError);
    assert.equal(toTollgateError('a string').code, 'internal');
  });
});
