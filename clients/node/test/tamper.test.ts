// Tamper tests: a flipped byte, an extra file, a rewritten manifest, a missing manifest, a non-ONNX
// model.onnx, a wrong or missing signature. Each is refused with a typed error whose reason is the text the
// Python server's own loader gives for the same directory, the good version keeps loading, and a failed
// load is not cached (repairing the directory makes the next load succeed).
import assert from 'node:assert/strict';
import { createHash, generateKeyPairSync } from 'node:crypto';
import { appendFileSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

import { IntegrityError, VerificationError, createModelService } from '../src/index.js';
import { FIXTURES, copyFixture, serverReasons } from './support.js';

const TYPE = 'safety_classifier';

function rewriteManifest(directory: string): void {
  const manifestPath = path.join(directory, 'manifest.json');
  const manifest = JSON.parse(readFileSync(manifestPath, 'utf8')) as { files: Record<string, string> };
  for (const name of Object.keys(manifest.files)) {
    manifest.files[name] = createHash('sha256').update(readFileSync(path.join(directory, name))).digest('hex');
  }
  writeFileSync(manifestPath, `${JSON.stringify(manifest, null, 2)}\n`);
}

function flipByte(file: string): void {
  const data = readFileSync(file);
  data[Math.floor(data.length / 2)]! ^= 0xff;
  writeFileSync(file, data);
}

describe('tampered model directories (unsigned)', () => {
  const copy = copyFixture('models');
  const dir = (version: string): string => path.join(copy.root, TYPE, version);
  const original = new Map<string, Buffer>();
  let reasons: Record<string, string | null> = {};
  after(() => copy.cleanup());

  before(() => {
    original.set('v1.0.0', readFileSync(path.join(dir('v1.0.0'), 'model.onnx')));
    flipByte(path.join(dir('v1.0.0'), 'model.onnx')); // one flipped byte
    writeFileSync(path.join(dir('v1.1.0'), 'notes.txt'), 'not in the manifest\n'); // an extra file
    appendFileSync(path.join(dir('v1.2.0-rc.1'), 'manifest.json'), ' '); // still JSON, digest of nothing changed
    writeFileSync(path.join(dir('v1.2.0-rc.1'), 'tokenizer.json'), '{}'); // manifest now lies about it
    rmSync(path.join(copy.root, 'intent_classifier', 'v0.9.0', 'manifest.json')); // no manifest
    writeFileSync(path.join(copy.root, 'intent_classifier', 'v0.10.0', 'model.onnx'), 'not an onnx model'); // non-ONNX
    rewriteManifest(path.join(copy.root, 'intent_classifier', 'v0.10.0'));
    reasons = serverReasons(copy.root, [
      `${TYPE}/v1.0.0`,
      `${TYPE}/v1.1.0`,
      `${TYPE}/v1.2.0-rc.1`,
      'intent_classifier/v0.9.0',
      'intent_classifier/v0.10.0',
      `${TYPE}/v1.10.0`,
    ]);
  });

  const service = createModelService({ modelsDir: copy.root });

  async function refused(modelType: string, version: string, kind: typeof VerificationError): Promise<VerificationError> {
    const error = await service.loadModel(modelType, version).then(
      () => assert.fail(`${modelType} ${version} loaded`),
      (caught: unknown) => caught,
    );
    assert.ok(error instanceof kind, `expected ${kind.name}, got ${String(error)}`);
    return error;
  }

  test('a flipped byte in model.onnx: IntegrityError with the server reason', async () => {
    const error = await refused(TYPE, 'v1.0.0', IntegrityError);
    assert.match(error.reason, /^sha256 mismatch for model\.onnx: expected [0-9a-f]{64}, got [0-9a-f]{64}$/);
    assert.equal(error.reason, reasons[`${TYPE}/v1.0.0`]);
    assert.equal(error.message.includes('\n'), false);
  });

  test('an extra file: IntegrityError with the server reason', async () => {
    const error = await refused(TYPE, 'v1.1.0', IntegrityError);
    assert.equal(error.reason, 'unexpected file notes.txt is not listed in manifest.json');
    assert.equal(error.reason, reasons[`${TYPE}/v1.1.0`]);
  });

  test('a manifest that no longer matches a file: IntegrityError with the server reason', async () => {
    const error = await refused(TYPE, 'v1.2.0-rc.1', IntegrityError);
    assert.match(error.reason, /^sha256 mismatch for tokenizer\.json/);
    assert.equal(error.reason, reasons[`${TYPE}/v1.2.0-rc.1`]);
  });

  test('a version directory without manifest.json', async () => {
    const error = await refused('intent_classifier', 'v0.9.0', IntegrityError);
    assert.equal(error.reason, 'missing file manifest.json');
    assert.equal(error.reason, reasons['intent_classifier/v0.9.0']);
  });

  test('a non-ONNX model.onnx behind a rewritten manifest: VerificationError', async () => {
    const error = await refused('intent_classifier', 'v0.10.0', VerificationError);
    const prefix = 'model.onnx is not a valid ONNX model: ';
    assert.ok(error.reason.startsWith(prefix), error.reason);
    assert.ok(reasons['intent_classifier/v0.10.0']?.startsWith(prefix), String(reasons['intent_classifier/v0.10.0']));
  });

  test('the good version keeps loading and predicting', async () => {
    assert.equal(reasons[`${TYPE}/v1.10.0`], null);
    const model = await service.loadModel(TYPE, 'v1.10.0');
    assert.equal((await model.predict('hello, how are you today?')).label, 'safe');
    const health = await service.health(TYPE, 'v1.0.0');
    assert.equal(health.status, 'unhealthy');
    assert.equal(health.reason, reasons[`${TYPE}/v1.0.0`]);
  });

  test('a failed load is not cached: the repaired directory loads', async () => {
    await refused(TYPE, 'v1.0.0', IntegrityError);
    writeFileSync(path.join(dir('v1.0.0'), 'model.onnx'), original.get('v1.0.0')!);
    const model = await service.loadModel(TYPE, 'v1.0.0');
    assert.equal(model.version, 'v1.0.0');
    assert.equal((await service.health(TYPE, 'v1.0.0')).status, 'healthy');
  });
});

describe('signatures (model-signing, written by modelctl sign)', () => {
  const copy = copyFixture('signed');
  const key = path.join(FIXTURES, 'keys', 'signing-key.pub');
  after(() => copy.cleanup());

  test('a good signature verifies and health says signed', async () => {
    const service = createModelService({ modelsDir: copy.root, publicKey: key, requireSignature: true });
    const health = await service.health(TYPE, 'v1.0.0');
    assert.equal(health.status, 'healthy', health.reason);
    assert.equal(health.metadata['signed'], true);
  });

  test('a wrong key is refused with the server reason', async () => {
    const other = generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).publicKey.export({ type: 'spki', format: 'pem' }) as string;
    const keyFile = path.join(path.dirname(copy.root), 'other.pub');
    writeFileSync(keyFile, other);
    const service = createModelService({ modelsDir: copy.root, publicKey: keyFile });
    const error = await service.loadModel(TYPE, 'v1.0.0').catch((caught: unknown) => caught);
    assert.ok(error instanceof IntegrityError, String(error));
    const server = serverReasons(copy.root, [`${TYPE}/v1.0.0/${keyFile}`])[`${TYPE}/v1.0.0/${keyFile}`];
    assert.equal(error.reason, server);
  });

  test('a rewritten manifest over a changed file breaks the signature', async () => {
    const directory = path.join(copy.root, TYPE, 'v1.0.0');
    const metadataPath = path.join(directory, 'metadata.json');
    const saved = readFileSync(metadataPath);
    writeFileSync(metadataPath, saved.toString('utf8').replace('"framework": "onnx"', '"framework": "onnx "'));
    const savedManifest = readFileSync(path.join(directory, 'manifest.json'));
    rewriteManifest(directory);
    const service = createModelService({ modelsDir: copy.root, publicKey: key });
    const error = await service.loadModel(TYPE, 'v1.0.0').catch((caught: unknown) => caught);
    assert.ok(error instanceof IntegrityError, String(error));
    assert.ok(error.reason.startsWith('signature verification failed for model.sig: '), error.reason);
    const server = serverReasons(copy.root, [`${TYPE}/v1.0.0/${key}`])[`${TYPE}/v1.0.0/${key}`];
    assert.ok(server?.startsWith('signature verification failed for model.sig: '), String(server));
    writeFileSync(metadataPath, saved);
    writeFileSync(path.join(directory, 'manifest.json'), savedManifest);
    assert.equal((await service.loadModel(TYPE, 'v1.0.0')).version, 'v1.0.0');
  });

  test('an unsigned model with requireSignature is refused with the server reason', async () => {
    const service = createModelService({ modelsDir: path.join(FIXTURES, 'models'), publicKey: key, requireSignature: true });
    const error = await service.loadModel(TYPE, 'v1.1.0').catch((caught: unknown) => caught);
    assert.ok(error instanceof IntegrityError, String(error));
    assert.equal(error.reason, 'missing signature model.sig: the model is unsigned and require-signature is set');
  });
});
