// The committed generated wire types are exactly what scripts/gen-wire-types.ts makes from proto/vendor
// today, with the generator flags that match the loader options the server decodes with.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { loadSync } from '@grpc/proto-loader';
import { GENERATOR_FLAGS, generateWireTypes, listFiles } from '../../scripts/gen-wire-types.ts';
import { EXT_PROC_PROTO, LOADER_OPTIONS } from '../../extproc/wire/proto.ts';

const COMMITTED = new URL('../../extproc/wire/generated/', import.meta.url).pathname;
const HOW_TO_FIX = 'run `node scripts/gen-wire-types.ts` and commit extproc/wire/generated/';

describe('generated wire types', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tollgate-wire-types-'));
  after(() => { rmSync(dir, { recursive: true, force: true }); });
  const fresh = generateWireTypes(dir);

  it('regenerate to the same file list', () => {
    assert.ok(fresh.length > 0);
    assert.deepEqual(listFiles(COMMITTED), listFiles(dir), HOW_TO_FIX);
  });

  it('regenerate byte for byte', () => {
    const stale = listFiles(dir).filter((rel) => !readFileSync(join(dir, rel)).equals(readFileSync(join(COMMITTED, rel))));
    assert.deepEqual(stale, [], `stale: ${stale.join(', ')}; ${HOW_TO_FIX}`);
  });

  it('cover the four messages of the two services', () => {
    for (const rel of [
      'envoy/service/ext_proc/v3/ProcessingRequest.ts',
      'envoy/service/ext_proc/v3/ProcessingResponse.ts',
      'envoy/service/auth/v3/CheckRequest.ts',
      'envoy/service/auth/v3/CheckResponse.ts',
    ]) assert.ok(fresh.includes(rel), rel);
    // Descriptor and validation annotations never travel on the wire, so they are not kept.
    assert.deepEqual(fresh.filter((rel) => /^(validate|udpa|xds)\/|Descriptor/.test(rel)), []);
  });

  it('use the flags that match LOADER_OPTIONS', () => {
    const flag = (name: string): boolean => GENERATOR_FLAGS.includes(name);
    const value = (name: string): string | undefined => GENERATOR_FLAGS[GENERATOR_FLAGS.indexOf(name) + 1];
    assert.equal(flag('--keepCase'), LOADER_OPTIONS.keepCase === true);
    assert.equal(flag('--oneofs'), LOADER_OPTIONS.oneofs === true);
    assert.equal(flag('--defaults'), LOADER_OPTIONS.defaults === true);
    assert.equal(value('--longs'), LOADER_OPTIONS.longs === String ? 'String' : undefined);
    assert.equal(value('--enums'), LOADER_OPTIONS.enums === String ? 'String' : undefined);
    assert.equal(flag('--arrays') || flag('--objects'), false);
  });

  it('name the fields as the loader decodes them', () => {
    // keepCase: the decoded message uses proto names; the generated type must list the same ones.
    const def = loadSync(EXT_PROC_PROTO, LOADER_OPTIONS)['envoy.service.ext_proc.v3.HttpHeaders'];
    assert.ok(def !== undefined && 'type' in def);
    const fields = (def.type as { field: { name: string }[] }).field.map((f) => f.name);
    const text = readFileSync(join(COMMITTED, 'envoy/service/ext_proc/v3/HttpHeaders.ts'), 'utf8');
    assert.ok(fields.includes('end_of_stream'));
    for (const f of fields) assert.match(text, new RegExp(`'${f}'\\?:`), f);
  });
});
