// The example backend on a real port over model directories written by the Python tooling: the seed
// health JSON, predict (one text and a batch), the model list, and 400/404/503 for bad input, an unknown
// type and a tampered model, with the process still serving afterwards.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';

import { createModelService } from '@modelops/client';

import { createApp } from '../app.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const clientDir = path.resolve(here, '..', '..', '..', 'clients', 'node');
const fixtures = path.join(clientDir, 'build', 'fixtures');

describe('examples/node-backend', () => {
  let server;
  let base;
  let tmp;

  before(async () => {
    if (!existsSync(path.join(fixtures, 'vectors.json'))) {
      execFileSync(process.execPath, [path.join(clientDir, 'scripts', 'fixtures.mjs')], { stdio: 'inherit' });
    }
    tmp = mkdtempSync(path.join(os.tmpdir(), 'node-backend-'));
    cpSync(path.join(fixtures, 'models'), tmp, { recursive: true, verbatimSymlinks: true });
    writeFileSync(path.join(tmp, 'safety_classifier', 'v1.1.0', 'extra.bin'), 'tampered');
    const app = createApp(createModelService({ modelsDir: tmp }));
    await new Promise((resolve) => {
      server = app.listen(0, '127.0.0.1', resolve);
    });
    base = `http://127.0.0.1:${server.address().port}`;
  });
  after(() => {
    server?.close();
    rmSync(tmp, { recursive: true, force: true });
  });

  const post = (route, body) =>
    fetch(`${base}${route}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

  test('health answers with the seed JSON', async () => {
    const response = await fetch(`${base}/api/v1/ml-models/safety_classifier/health`);
    assert.equal(response.status, 200);
    const health = await response.json();
    assert.equal(health.model_type, 'safety_classifier');
    assert.equal(health.version, 'v1.10.0');
    assert.equal(health.status, 'healthy');
    assert.equal(health.loadable, true);
    assert.deepEqual(health.metadata.labels, ['safe', 'risk']);
  });

  test('predict: one text and a batch', async () => {
    const one = await (await post('/api/v1/ml-models/safety_classifier/predict', { text: 'hello, how are you today?', version: 'v1.0.0' })).json();
    assert.equal(one.version, 'v1.0.0');
    assert.equal(one.label, 'safe');
    assert.ok(Math.abs(one.scores.safe + one.scores.risk - 1) < 1e-6);
    const many = await (await post('/api/v1/ml-models/intent_classifier/predict', { texts: ['hello', 'I want to hurt myself'] })).json();
    assert.equal(many.predictions.length, 2);
  });

  test('the model list has the seed shape', async () => {
    const list = await (await fetch(`${base}/api/v1/ml-models`)).json();
    assert.deepEqual(list.safety_classifier, ['v1.0.0', 'v1.1.0', 'v1.2.0-rc.1', 'v1.10.0']);
  });

  test('bad input 400, unknown type 404, tampered model 503; still serving', async () => {
    const bad = await post('/api/v1/ml-models/safety_classifier/predict', { text: 42 });
    assert.equal(bad.status, 400);
    assert.equal((await bad.json()).error, "'text' must be a string, got int");
    const unknown = await post('/api/v1/ml-models/no_such_type/predict', { text: 'hi' });
    assert.equal(unknown.status, 404);
    const tampered = await fetch(`${base}/api/v1/ml-models/safety_classifier/health?version=v1.1.0`);
    assert.equal(tampered.status, 503);
    assert.equal((await tampered.json()).reason, 'unexpected file extra.bin is not listed in manifest.json');
    const refused = await post('/api/v1/ml-models/safety_classifier/predict', { text: 'hi', version: 'v1.1.0' });
    assert.equal(refused.status, 503);
    assert.equal((await fetch(`${base}/api/v1/ml-models/safety_classifier/health`)).status, 200);
  });
});
