// Cross-language parity: model directories written by the Python tooling give, in Node local mode, the
// labels and scores (within 1e-5) that the Python server's TextClassifier gave on the same texts. The tiny
// Hugging Face BERT (exported, signed and packaged by `modelctl deploy-model`; WordPiece tokenizer.json and a
// token_type_ids input) is loaded with its public key and require-signature, so its signature is checked too.
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { after, describe, test } from 'node:test';

import { createModelService } from '../src/index.js';
import type { Prediction } from '../src/types.js';
import { FIXTURES, TOLERANCE, maxScoreDiff, vectors } from './support.js';

const data = vectors();
const modelsDir = path.join(FIXTURES, 'models');
const HF_BERT = 'hf_bert_classifier';
const service = createModelService({ modelsDir });
const signedService = createModelService({
  modelsDir,
  publicKey: path.join(FIXTURES, 'bert-keys', 'signing-key.pub'),
  requireSignature: true,
});
const worstByModel = new Map<string, number>();
let worst = 0;

function serviceFor(modelType: string): typeof service {
  return modelType === HF_BERT ? signedService : service;
}

function assertClose(actual: Prediction, expected: Prediction, where: string): void {
  assert.equal(actual.label, expected.label, `${where}: label`);
  assert.deepEqual(Object.keys(actual.scores), Object.keys(expected.scores), `${where}: labels in order`);
  const diff = maxScoreDiff(actual, expected);
  worst = Math.max(worst, diff);
  const model = where.split(' text ')[0]!.split(' batch ')[0]!;
  worstByModel.set(model, Math.max(worstByModel.get(model) ?? 0, diff));
  assert.ok(diff <= TOLERANCE, `${where}: scores differ by ${diff} (> ${TOLERANCE})`);
}

describe('local mode matches the Python server', () => {
  after(() => {
    console.log(`parity: ${data.models.length} models x ${data.texts.length} texts, max |score diff| = ${worst.toExponential(2)}`);
    for (const [model, diff] of worstByModel) console.log(`parity: ${model} max |score diff| = ${diff.toExponential(2)}`);
  });

  test('the tiny Hugging Face BERT is among the vectors, signed, with a token_type_ids input', async () => {
    assert.ok(data.models.some((entry) => entry.model_type === HF_BERT), `${HF_BERT} missing from vectors.json`);
    const directory = path.join(modelsDir, HF_BERT, 'v1.0.0');
    const metadata = JSON.parse(readFileSync(path.join(directory, 'metadata.json'), 'utf8')) as { inputs: { name: string }[] };
    assert.deepEqual(metadata.inputs.map((input) => input.name), ['input_ids', 'attention_mask', 'token_type_ids']);
    assert.ok(existsSync(path.join(directory, 'model.sig')), 'deploy-model --sign-key wrote no model.sig');
    const health = await signedService.health(HF_BERT, 'v1.0.0');
    assert.equal(health.status, 'healthy', JSON.stringify(health));
  });

  for (const expected of data.models) {
    const name = `${expected.model_type} ${expected.version}`;
    test(`${name}: one text at a time`, async () => {
      const model = await serviceFor(expected.model_type).loadModel(expected.model_type, expected.version);
      for (const [index, text] of data.texts.entries()) {
        assertClose(await model.predict(text), expected.single[index]!, `${name} text ${index}`);
      }
    });
    test(`${name}: one batch`, async () => {
      const model = await serviceFor(expected.model_type).loadModel(expected.model_type, expected.version);
      const rows = await model.predict(data.texts);
      assert.equal(rows.length, data.texts.length);
      rows.forEach((row, index) => assertClose(row, expected.batch[index]!, `${name} batch row ${index}`));
    });
  }

  test('latest follows the link to the newest version', async () => {
    const model = await service.loadModel('safety_classifier');
    assert.equal(model.version, 'v1.10.0');
    assert.equal(model, await service.loadModel('safety_classifier', 'v1.10.0'));
  });
});
