// Cross-language parity: model directories written by the Python tooling give, in Node local mode, the
// labels and scores (within 1e-5) that the Python server's TextClassifier gave on the same texts.
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, describe, test } from 'node:test';

import { createModelService } from '../src/index.js';
import type { Prediction } from '../src/types.js';
import { FIXTURES, TOLERANCE, maxScoreDiff, vectors } from './support.js';

const data = vectors();
const service = createModelService({ modelsDir: path.join(FIXTURES, 'models') });
let worst = 0;

function assertClose(actual: Prediction, expected: Prediction, where: string): void {
  assert.equal(actual.label, expected.label, `${where}: label`);
  assert.deepEqual(Object.keys(actual.scores), Object.keys(expected.scores), `${where}: labels in order`);
  const diff = maxScoreDiff(actual, expected);
  worst = Math.max(worst, diff);
  assert.ok(diff <= TOLERANCE, `${where}: scores differ by ${diff} (> ${TOLERANCE})`);
}

describe('local mode matches the Python server', () => {
  after(() => console.log(`parity: ${data.models.length} models x ${data.texts.length} texts, max |score diff| = ${worst.toExponential(2)}`));

  for (const expected of data.models) {
    const name = `${expected.model_type} ${expected.version}`;
    test(`${name}: one text at a time`, async () => {
      const model = await service.loadModel(expected.model_type, expected.version);
      for (const [index, text] of data.texts.entries()) {
        assertClose(await model.predict(text), expected.single[index]!, `${name} text ${index}`);
      }
    });
    test(`${name}: one batch`, async () => {
      const model = await service.loadModel(expected.model_type, expected.version);
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
