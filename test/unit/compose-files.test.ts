// docker-compose.yml mounts envoy/envoy.compose.yaml, rendered from the template for examples/compose.yaml.
// Keep the committed file in step with the template and the renderer.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { loadConfigFile } from '../../extproc/config/load.ts';
import { DEFAULT_CA_FILE, renderEnvoyConfig } from '../../extproc/envoy/render.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

describe('docker compose files', () => {
  it('envoy/envoy.compose.yaml is what `tollgate envoy render` makes for examples/compose.yaml', () => {
    const rendered = renderEnvoyConfig(loadConfigFile(join(ROOT, 'examples', 'compose.yaml')), {
      listenHost: '0.0.0.0',
      listenPort: 10000,
      adminPort: 9901,
      tollgateHost: 'tollgate',
      tollgatePort: 9001,
      caFile: DEFAULT_CA_FILE,
    });
    assert.equal(readFileSync(join(ROOT, 'envoy', 'envoy.compose.yaml'), 'utf8'), rendered,
      'stale: run `npm exec tollgate -- envoy render --config examples/compose.yaml --tollgate tollgate:9001 --port 10000 > envoy/envoy.compose.yaml`');
  });

  it('docker-compose.yml mounts the files this test checks', () => {
    const compose = readFileSync(join(ROOT, 'docker-compose.yml'), 'utf8');
    assert.match(compose, /\.\/examples\/compose\.yaml:\/etc\/tollgate\/config\.yaml:ro/);
    assert.match(compose, /\.\/envoy\/envoy\.compose\.yaml:\/etc\/envoy\/envoy\.yaml:ro/);
    assert.match(compose, /envoyproxy\/envoy:v1\.40\.0/, 'the compose Envoy matches the pinned test Envoy');
  });
});
