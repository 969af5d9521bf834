// Remote mode against real `modelops-server` processes on loopback ports, started here: the same answers
// as local mode (within 1e-5), the seed health document, a refused bearer token, a 503 from a model that
// failed verification (with the server's reason), the server's 400 message, and a refused connection.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

import {
  AuthenticationError,
  ConnectionError,
  InvalidInputError,
  ModelNotFoundError,
  ServerError,
  createModelService,
  type RemoteModel,
} from '../src/index.js';
import type { Model } from '../src/types.js';
import { FIXTURES, TOLERANCE, copyFixture, freePort, maxScoreDiff, startServer, vectors, type RunningServer } from './support.js';

const TYPE = 'safety_classifier';
const TOKEN = 'node-client-test-token';

describe('remote mode against modelops-server', () => {
  const copy = copyFixture('models');
  const tokenFile = path.join(path.dirname(copy.root), 'token');
  let good: RunningServer | undefined;
  let broken: RunningServer | undefined;

  before(async () => {
    writeFileSync(tokenFile, `${TOKEN}\n`);
    writeFileSync(path.join(copy.root, TYPE, 'v1.1.0', 'extra.bin'), 'tampered');
    const common = ['--models-dir', copy.root, '--model-type', TYPE, '--auth-token-file', tokenFile];
    [good, broken] = await Promise.all([
      startServer([...common, '--version', 'v1.0.0']),
      startServer([...common, '--version', 'v1.1.0']),
    ]);
  });
  after(async () => {
    await Promise.all([good?.stop(), broken?.stop()]);
    copy.cleanup();
  });

  const remote = (url: string, token: string | null = TOKEN) =>
    createModelService({ mode: 'remote', baseUrl: url, token: token ?? undefined, timeoutMs: 10_000, retries: 2 });

  async function healthyModel(): Promise<Model> {
    const service = remote(good!.url);
    const deadline = Date.now() + 60_000;
    for (;;) {
      try {
        return await service.loadModel(TYPE, 'v1.0.0');
      } catch (error) {
        // The server answers 503 while its background load runs; poll with a deadline.
        if (!(error instanceof ServerError && error.status === 503) || Date.now() > deadline) throw error;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
  }

  test('predictions equal local mode and the Python fixtures (within 1e-5)', async () => {
    const model = await healthyModel();
    const local = await createModelService({ modelsDir: path.join(FIXTURES, 'models') }).loadModel(TYPE, 'v1.0.0');
    const data = vectors();
    const expected = data.models.find((m) => m.model_type === TYPE && m.version === 'v1.0.0')!;
    const remoteRows = await model.predict(data.texts);
    const localRows = await local.predict(data.texts);
    let worst = 0;
    remoteRows.forEach((row, index) => {
      assert.equal(row.label, localRows[index]!.label);
      worst = Math.max(worst, maxScoreDiff(row, localRows[index]!), maxScoreDiff(row, expected.batch[index]!));
    });
    const single = await model.predict(data.texts[1]!);
    worst = Math.max(worst, maxScoreDiff(single, expected.single[1]!));
    console.log(`remote parity: max |score diff| vs local and fixtures = ${worst.toExponential(2)}`);
    assert.ok(worst <= TOLERANCE, `scores differ by ${worst}`);
  });

  test('Open Inference Protocol v2 when asked: the same probabilities', async () => {
    const model = (await healthyModel()) as RemoteModel;
    const texts = vectors().texts.slice(0, 3);
    const answer = (await model.infer({ inputs: [{ name: 'text', shape: [texts.length], datatype: 'BYTES', data: texts }] })) as {
      model_version: string;
      outputs: { name: string; data: (string | number)[] }[];
    };
    assert.equal(answer.model_version, 'v1.0.0');
    const probabilities = answer.outputs.find((output) => output.name === 'probabilities')!.data as number[];
    const seed = await model.predict(texts);
    seed.forEach((row, index) => {
      assert.ok(Math.abs(probabilities[index * 2]! - row.scores['safe']!) <= TOLERANCE);
      assert.ok(Math.abs(probabilities[index * 2 + 1]! - row.scores['risk']!) <= TOLERANCE);
    });
  });

  test('health returns the server seed document', async () => {
    await healthyModel();
    const health = await remote(good!.url).health(TYPE);
    assert.equal(health.status, 'healthy');
    assert.equal(health.version, 'v1.0.0');
    assert.deepEqual(health.metadata['labels'], ['safe', 'risk']);
    assert.deepEqual(await remote(good!.url).listAvailableModels(), { [TYPE]: ['v1.0.0'] });
    assert.equal(await remote(good!.url).isModelAvailable(TYPE, 'v1.0.0'), true);
  });

  test('a wrong or missing token: AuthenticationError with the server message', async () => {
    await healthyModel();
    for (const token of ['wrong-token', null]) {
      const model = await remote(good!.url, token).loadModel(TYPE, 'v1.0.0');
      await assert.rejects(model.predict('hello'), (error: unknown) => {
        assert.ok(error instanceof AuthenticationError, String(error));
        assert.equal(error.status, 401);
        assert.equal(error.serverMessage, 'missing or invalid bearer token');
        return true;
      });
    }
  });

  test('a model that failed verification: ServerError 503 with the reason local mode gives', async () => {
    const service = remote(broken!.url);
    let health = await service.health(TYPE);
    const deadline = Date.now() + 60_000;
    while (health.reason === undefined || health.reason === 'model is loading') {
      if (Date.now() > deadline) assert.fail(`no failure reason: ${JSON.stringify(health)}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
      health = await service.health(TYPE);
    }
    assert.equal(health.status, 'unhealthy');
    const local = await createModelService({ modelsDir: copy.root }).health(TYPE, 'v1.1.0');
    assert.equal(health.reason, local.reason);
    assert.equal(health.reason, 'unexpected file extra.bin is not listed in manifest.json');
    await assert.rejects(service.loadModel(TYPE), (error: unknown) => {
      assert.ok(error instanceof ServerError, String(error));
      assert.equal(error.status, 503);
      assert.equal(error.serverMessage, health.reason);
      return true;
    });
  });

  test('the server 400 message, an unknown type, a version it does not serve', async () => {
    await healthyModel();
    const lax = createModelService({ mode: 'remote', baseUrl: good!.url, token: TOKEN, maxTextChars: 1e9 });
    const model = await lax.loadModel(TYPE, 'v1.0.0');
    await assert.rejects(model.predict('x'.repeat(10_001)), (error: unknown) => {
      assert.ok(error instanceof ServerError && error.status === 400, String(error));
      assert.equal(error.serverMessage, "'text'[0] has 10001 characters; the limit is 10000");
      return true;
    });
    await assert.rejects(model.predict([]), new InvalidInputError("'texts' must be a non-empty list of strings"));
    await assert.rejects(remote(good!.url).loadModel('intent_classifier'), ModelNotFoundError);
    await assert.rejects(remote(good!.url).loadModel(TYPE, 'v2.0.0'), ModelNotFoundError);
  });

  test('a refused connection: ConnectionError after the bounded retries', async () => {
    const closed = await freePort(); // nothing listens there once freePort returns
    const started = Date.now();
    const service = createModelService({ mode: 'remote', baseUrl: `http://127.0.0.1:${closed}`, retries: 2 });
    await assert.rejects(service.loadModel(TYPE), (error: unknown) => {
      assert.ok(error instanceof ConnectionError, String(error));
      assert.match(error.message, /failed after 3 attempt\(s\): ECONNREFUSED$/);
      return true;
    });
    assert.ok(Date.now() - started >= 300, 'retries back off (100 + 200 ms)');
  });
});
