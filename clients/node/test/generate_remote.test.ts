// Remote generation against real `modelops-server` processes serving the tiny Llama text-generation package
// that the Python tooling builds, exports (onnxruntime-genai), manifests and signs (build/fixtures/persona,
// written by `support.node_fixtures` from its content-keyed cache). Greedy `generate()` equals the server's
// own non-streaming answer (raw fetch) and the concatenated `stream()` chunks, with the same usage and
// finish reason; bad requests are typed errors naming the field; a full server's 429 is a ServerError; and
// breaking out of a stream frees the server's generation slot (its /metrics gauge drops to 0).
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

import {
  AuthenticationError,
  ConnectionError,
  InvalidInputError,
  MODEL_TYPES,
  ServerError,
  createModelService,
  type GenerationChunk,
  type Model,
  type ModelService,
} from '../src/index.js';
import { FIXTURES, startServer, waitFor, type RunningServer } from './support.js';

const TYPE = MODEL_TYPES.PERSONA_MODEL;
const VERSION = 'v1.0.0';
const TOKEN = 'node-generation-test-token';
const MAX_NEW = 64; // the main server's --max-new-tokens
const GENERATE = `/api/v1/ml-models/${TYPE}/generate`;
const MESSAGES = [
  { role: 'system' as const, content: 'You are kind.' },
  { role: 'user' as const, content: 'I feel a bit tired today. Café?' },
];
// Tens of thousands of tokens with the end of turn refused: seconds on the tiny model, far longer than the
// checks made while it runs (the same request as the Python limits test).
const LONG = { maxNewTokens: 30_000, minNewTokens: 30_000, temperature: 0.9, seed: 1 };
const ACTIVE = 'modelops_generations_active';
const CANCELLED = 'modelops_generations_total{finish_reason="cancelled"}';

interface WireAnswer {
  text: string;
  finish_reason: string;
  usage: { prompt_tokens: number; completion_tokens: number; total_tokens: number };
  token_ids: number[];
}

async function post(url: string, body: unknown, token?: string): Promise<{ status: number; json: Record<string, unknown> }> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (token !== undefined) headers['authorization'] = `Bearer ${token}`;
  const response = await fetch(url, { method: 'POST', headers, body: JSON.stringify(body) });
  return { status: response.status, json: (await response.json()) as Record<string, unknown> };
}

/** A metric's value from the server's Prometheus text (0 when absent). */
async function metric(url: string, name: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const line = text.split('\n').find((row) => row.startsWith(`${name} `));
  return line === undefined ? 0 : Number(line.slice(name.length + 1));
}

/** The model once the server's background load (and golden check) has finished: it answers 503 before. */
async function ready(service: ModelService): Promise<Model> {
  let model: Model | undefined;
  await waitFor(`${TYPE} to become healthy`, async () => {
    try {
      model = await service.loadModel(TYPE, VERSION);
      return true;
    } catch (error) {
      if (error instanceof ServerError && error.status === 503) return false;
      throw error;
    }
  });
  return model!;
}

async function collect(stream: AsyncIterable<GenerationChunk>): Promise<GenerationChunk[]> {
  const chunks: GenerationChunk[] = [];
  for await (const chunk of stream) chunks.push(chunk);
  return chunks;
}

describe('remote generation against modelops-server (tiny Llama from the Python tooling)', () => {
  const models = path.join(FIXTURES, 'persona', 'models');
  const publicKey = path.join(FIXTURES, 'persona', 'keys', 'signing-key.pub');
  const scratch = mkdtempSync(path.join(os.tmpdir(), 'modelops-node-generate-'));
  const tokenFile = path.join(scratch, 'token');
  let main: RunningServer | undefined;
  let oneSlot: RunningServer | undefined;

  before(async () => {
    writeFileSync(tokenFile, `${TOKEN}\n`);
    const common = ['--models-dir', models, '--model-type', TYPE, '--version', VERSION, '--public-key', publicKey, '--require-signature'];
    [main, oneSlot] = await Promise.all([
      startServer([...common, '--auth-token-file', tokenFile, '--max-new-tokens', String(MAX_NEW)]),
      startServer([...common, '--max-generations', '1', '--max-queued-generations', '0', '--max-new-tokens', '30000']),
    ]);
  });
  after(async () => {
    await Promise.all([main?.stop(), oneSlot?.stop()]);
    rmSync(scratch, { recursive: true, force: true });
  });

  const service = (url: string, token?: string): ModelService =>
    createModelService({ mode: 'remote', baseUrl: url, token, timeoutMs: 30_000, retries: 2 });

  test('health, isModelAvailable and listAvailableModels give the seed documents', async () => {
    const client = service(main!.url, TOKEN);
    await ready(client);
    const health = await client.health(TYPE);
    assert.equal(health.model_type, TYPE);
    assert.equal(health.version, VERSION);
    assert.equal(health.status, 'healthy');
    assert.equal(health.available, true);
    assert.equal(health.loadable, true);
    assert.equal(health.metadata['task'], 'text-generation');
    assert.equal(health.metadata['signed'], true);
    assert.equal(await client.isModelAvailable(TYPE, VERSION), true);
    assert.equal(await client.isModelAvailable(TYPE), true);
    assert.equal(await client.isModelAvailable(TYPE, 'v9.9.9'), false, 'a version the server does not serve');
    assert.equal(await client.isModelAvailable(MODEL_TYPES.SAFETY_CLASSIFIER), false, 'a type the server does not serve');
    assert.deepEqual(await client.listAvailableModels(), { [TYPE]: [VERSION] });
  });

  test('greedy generate() equals the raw answer, the streamed chunks and /v1/chat/completions', async () => {
    const model = await ready(service(main!.url, TOKEN));
    const request = { messages: MESSAGES, max_new_tokens: 48, temperature: 0 };
    const raw = await post(`${main!.url}${GENERATE}`, request, TOKEN);
    assert.equal(raw.status, 200, JSON.stringify(raw.json));
    const wire = raw.json as unknown as WireAnswer;

    const result = await model.generate(MESSAGES, { maxNewTokens: 48, temperature: 0 });
    assert.deepEqual(result, {
      text: wire.text,
      finishReason: wire.finish_reason,
      usage: { promptTokens: wire.usage.prompt_tokens, completionTokens: wire.usage.completion_tokens, totalTokens: wire.usage.total_tokens },
      tokenIds: wire.token_ids,
    });
    assert.ok(['stop', 'length'].includes(result.finishReason), result.finishReason);
    assert.ok(result.text.length > 0 && result.usage.promptTokens > 10);
    assert.equal(result.usage.completionTokens, result.tokenIds.length);
    assert.equal(result.usage.totalTokens, result.usage.promptTokens + result.usage.completionTokens);

    const stream = model.stream(MESSAGES, { maxNewTokens: 48, temperature: 0 });
    const chunks = await collect(stream);
    assert.ok(chunks.length > 1, `${chunks.length} chunk(s)`);
    assert.equal(chunks.map((chunk) => chunk.text).join(''), result.text);
    assert.deepEqual(chunks.flatMap((chunk) => chunk.tokenIds), result.tokenIds);
    assert.deepEqual(await stream.result, result);

    const openai = await post(`${main!.url}/v1/chat/completions`, { model: TYPE, messages: MESSAGES, max_tokens: 48, temperature: 0 }, TOKEN);
    const choice = (openai.json['choices'] as { message: { content: string } }[])[0]!;
    assert.equal(choice.message.content, result.text);
  });

  test('a shorter maxNewTokens ends with finish_reason length on a prefix of the same tokens', async () => {
    const model = await ready(service(main!.url, TOKEN));
    const whole = await model.generate(MESSAGES, { maxNewTokens: MAX_NEW, temperature: 0 });
    assert.ok(whole.usage.completionTokens > 4, `the tiny model stopped after ${whole.usage.completionTokens} tokens`);
    const short = await model.generate(MESSAGES, { maxNewTokens: 4, temperature: 0 });
    assert.equal(short.finishReason, 'length');
    assert.equal(short.usage.completionTokens, 4);
    assert.deepEqual(short.tokenIds, whole.tokenIds.slice(0, 4));
    const sampled = { maxNewTokens: 16, temperature: 1, topP: 0.95, seed: 7 };
    assert.deepEqual((await model.generate(MESSAGES, sampled)).tokenIds, (await model.generate(MESSAGES, sampled)).tokenIds, 'a seed reproduces sampling');
  });

  test('bad requests: typed errors naming the field, from the client and from the server', async () => {
    const model = await ready(service(main!.url, TOKEN));
    // Refused before sending; the server names the same field for the same body.
    const refused: [unknown, Record<string, number>, Record<string, unknown>, RegExp, string][] = [
      [[], {}, { messages: [] }, /^messages must be a non-empty array/, "'messages'"],
      [MESSAGES, { maxNewTokens: 0 }, { messages: MESSAGES, max_new_tokens: 0 }, /^maxNewTokens must be an integer/, "'max_new_tokens'"],
    ];
    for (const [messages, options, body, clientMessage, serverField] of refused) {
      await assert.rejects(model.generate(messages, options), (error: unknown) => error instanceof InvalidInputError && clientMessage.test(error.message));
      assert.throws(() => model.stream(messages, options), InvalidInputError);
      const raw = await post(`${main!.url}${GENERATE}`, body, TOKEN);
      assert.equal(raw.status, 400);
      assert.ok(String(raw.json['error']).includes(serverField), String(raw.json['error']));
    }
    // Only the server can judge these: its token limit and blank content. A ServerError with its 400.
    const serverOnly: [unknown, Record<string, number>, string][] = [
      [MESSAGES, { maxNewTokens: MAX_NEW + 1 }, `'max_new_tokens' must be in 1..${MAX_NEW}, got ${MAX_NEW + 1}`],
      [[{ role: 'user', content: '   ' }], {}, "'messages' have no content: every message is empty"],
    ];
    for (const [messages, options, message] of serverOnly) {
      const check = (error: unknown): boolean => {
        assert.ok(error instanceof ServerError, String(error));
        assert.equal(error.status, 400);
        assert.equal(error.serverMessage, message);
        return true;
      };
      await assert.rejects(model.generate(messages, options), check);
      await assert.rejects(collect(model.stream(messages, options)), check);
    }
    const stranger = await service(main!.url, 'wrong-token').loadModel(TYPE, VERSION); // health is open
    await assert.rejects(stranger.generate(MESSAGES), (error: unknown) => error instanceof AuthenticationError && error.status === 401);
  });

  test('a full server answers 429 (ServerError); breaking out of a stream frees its slot', async () => {
    const url = oneSlot!.url;
    const model = await ready(service(url));
    const cancelledBefore = await metric(url, CANCELLED);
    const stream = model.stream([{ role: 'user', content: 'Tell me a long story' }], LONG);
    const busy = (error: unknown): boolean => {
      assert.ok(error instanceof ServerError, String(error));
      assert.equal(error.status, 429);
      assert.match(error.serverMessage, /slots are busy/);
      return true;
    };
    let seen = 0;
    for await (const chunk of stream) {
      assert.equal(typeof chunk.text, 'string');
      seen += 1;
      assert.equal(await metric(url, ACTIVE), 1, 'the stream holds the only slot');
      await assert.rejects(model.generate(MESSAGES, { maxNewTokens: 4 }), busy);
      await assert.rejects(collect(model.stream(MESSAGES, { maxNewTokens: 4 })), busy);
      break; // far from its 30,000 tokens: the client closes the connection
    }
    assert.equal(seen, 1);
    await assert.rejects(stream.result, ConnectionError);
    await waitFor(`${ACTIVE} to drop to 0 after the client left`, async () => (await metric(url, ACTIVE)) === 0, 20_000);
    await waitFor('the generation to be counted as cancelled', async () => (await metric(url, CANCELLED)) === cancelledBefore + 1, 20_000);
    const after = await model.generate(MESSAGES, { maxNewTokens: 4, temperature: 0 });
    assert.equal(after.usage.completionTokens, 4, 'the freed slot serves the next request');
  });
});
