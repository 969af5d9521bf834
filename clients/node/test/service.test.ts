// The seed's service API in local mode: listAvailableModels' shape and semver order, isModelAvailable,
// typed errors for unknown types/versions and bad input, one shared load for concurrent callers, the seed
// health document, and the default instance configured from MODELS_DIR.
import assert from 'node:assert/strict';
import { mkdirSync, symlinkSync } from 'node:fs';
import path from 'node:path';
import { after, describe, test } from 'node:test';

import {
  InvalidInputError,
  MODEL_TYPES,
  ModelNotFoundError,
  compareVersions,
  createModelService,
  optionsFromEnv,
} from '../src/index.js';
import { FIXTURES, copyFixture } from './support.js';

const modelsDir = path.join(FIXTURES, 'models');

describe('model service (local mode)', () => {
  const service = createModelService({ modelsDir });

  test('listAvailableModels returns the seed shape, versions sorted by semver', async () => {
    assert.deepEqual(await service.listAvailableModels(), {
      encoder_classifier: ['v1.0.0'],
      hf_bert_classifier: ['v1.0.0'],
      intent_classifier: ['v0.9.0', 'v0.10.0'],
      safety_classifier: ['v1.0.0', 'v1.1.0', 'v1.2.0-rc.1', 'v1.10.0'],
    });
  });

  test('semver order: pre-releases before the release, numeric parts numerically', () => {
    const sorted = ['v1.0.0', 'v1.0.0-rc.10', 'v1.0.0-rc.2', 'v1.0.0-alpha', 'v0.9.9', 'v1.0.0-rc.2.1'].sort(compareVersions);
    assert.deepEqual(sorted, ['v0.9.9', 'v1.0.0-alpha', 'v1.0.0-rc.2', 'v1.0.0-rc.2.1', 'v1.0.0-rc.10', 'v1.0.0']);
  });

  test('isModelAvailable follows the directories', async () => {
    assert.equal(await service.isModelAvailable(MODEL_TYPES.SAFETY_CLASSIFIER, 'v1.1.0'), true);
    assert.equal(await service.isModelAvailable(MODEL_TYPES.SAFETY_CLASSIFIER), true);
    assert.equal(await service.isModelAvailable(MODEL_TYPES.SAFETY_CLASSIFIER, 'v9.9.9'), false);
    assert.equal(await service.isModelAvailable('no_such_type', 'v1.0.0'), false);
    assert.equal(await service.isModelAvailable('../etc', 'v1.0.0'), false);
  });

  test('unknown type or version: ModelNotFoundError with the server loader text', async () => {
    await assert.rejects(service.loadModel('no_such_type', 'v1.0.0'), (error: unknown) => {
      assert.ok(error instanceof ModelNotFoundError);
      assert.equal(error.message, `model type directory ${path.join(modelsDir, 'no_such_type')} does not exist`);
      return true;
    });
    await assert.rejects(service.loadModel('safety_classifier', 'v9.9.9'), (error: unknown) => {
      assert.ok(error instanceof ModelNotFoundError);
      assert.equal(error.message, `model version directory ${path.join(modelsDir, 'safety_classifier', 'v9.9.9')} does not exist`);
      return true;
    });
  });

  test('a type without a latest link', async () => {
    const copy = copyFixture('models');
    after(() => copy.cleanup());
    mkdirSync(path.join(copy.root, 'empty_type'));
    const local = createModelService({ modelsDir: copy.root });
    const link = path.join(copy.root, 'empty_type', 'latest');
    await assert.rejects(local.loadModel('empty_type'), new ModelNotFoundError(`${link} does not exist (no 'latest' link to follow)`));
    symlinkSync(path.join(copy.root, 'safety_classifier', 'v1.0.0'), link);
    await assert.rejects(local.loadModel('empty_type'), ModelNotFoundError);
  });

  test('bad input: typed InvalidInputError, one line, the process keeps going', async () => {
    const model = await service.loadModel('safety_classifier', 'v1.1.0');
    const cases: [unknown, string][] = [
      [42, "'text' must be a string, got int"],
      [[], "'texts' must be a non-empty list of strings"],
      [['ok', null], "'texts'[1] must be a string, got NoneType"],
      ['   ', "'text' is empty"],
      ['x'.repeat(10_001), "'text' has 10001 characters; the limit is 10000"],
    ];
    for (const [input, message] of cases) {
      await assert.rejects(model.predict(input as string), new InvalidInputError(message));
    }
    await assert.rejects(service.loadModel('safety_classifier', '../../etc'), InvalidInputError);
    await assert.rejects(service.loadModel('Safety Classifier'), InvalidInputError);
  });

  test('concurrent loadModel calls share one load; the model is cached', async () => {
    const fresh = createModelService({ modelsDir });
    const models = await Promise.all([
      fresh.loadModel('intent_classifier', 'v0.9.0'),
      fresh.loadModel('intent_classifier', 'v0.9.0'),
    ]);
    assert.ok(models.every((model) => model === models[0]));
    assert.equal(await fresh.loadModel('intent_classifier', 'v0.9.0'), models[0]);
    const [latest, explicit] = await Promise.all([fresh.loadModel('intent_classifier'), fresh.loadModel('intent_classifier', 'v0.10.0')]);
    assert.equal(latest, explicit);
    assert.equal(latest.version, 'v0.10.0');
  });

  test('health returns the seed document', async () => {
    const health = await service.health('safety_classifier', 'v1.1.0');
    assert.deepEqual(Object.keys(health).sort(), ['available', 'loadable', 'metadata', 'model_type', 'status', 'version']);
    assert.equal(health.status, 'healthy');
    assert.equal(health.loadable, true);
    assert.deepEqual(health.metadata['labels'], ['safe', 'risk']);
    assert.match(String(health.metadata['sha256']), /^[0-9a-f]{64}$/);
    const missing = await service.health('safety_classifier', 'v9.9.9');
    assert.equal(missing.status, 'unhealthy');
    assert.equal(missing.available, false);
    assert.match(missing.reason ?? '', /does not exist$/);
  });

  test('the default instance reads MODELS_DIR', async () => {
    const fromEnv = createModelService(optionsFromEnv({ MODELS_DIR: modelsDir }));
    assert.equal(fromEnv.mode, 'local');
    assert.ok((await fromEnv.listAvailableModels())['safety_classifier']);
  });
});
