// Remote generation's transport edge cases that the real server cannot be made to produce, on real sockets:
// `model.stream()` against a small local HTTP server that speaks the modelops server's seed generate wire
// format (Server-Sent Events `data: {text, token_ids}` ... `data: {done: true, text, finish_reason, usage}`),
// written in arbitrary TCP splits with comment lines, an error event mid-stream, a stream cut before its
// final event, a malformed event, a stream that stalls (idle timeout) and a caller's cancellation; plus
// input refused before any request reaches a server, and a local model refusing generation.
// Everything the real server does produce (answers, streamed chunks, usage, finish reasons, its 400s and
// 429, auth, a break freeing the generation slot) is tested against a real `modelops-server` serving the
// tiny Llama in generate_remote.test.ts; the fake tests that duplicated those were removed.
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, describe, test } from 'node:test';

import {
  ConnectionError,
  InvalidInputError,
  ServerError,
  createModelService,
  type GenerationChunk,
  type Model,
} from '../src/index.js';
import { copyFixture } from './support.js';

const TYPE = 'persona_model';
const HEALTH = `/api/v1/ml-models/${TYPE}/health`;
const GENERATE = `/api/v1/ml-models/${TYPE}/generate`;
const TOKEN = 'secret-token';
const MESSAGES = [
  { role: 'system' as const, content: 'You are kind.' },
  { role: 'user' as const, content: 'Hello there' },
];
const PIECES = ['Hel', 'lo', ', ', 'friend', '!'];
const USAGE = { prompt_tokens: 7, completion_tokens: PIECES.length, total_tokens: 7 + PIECES.length };
const FINAL = {
  model_type: TYPE,
  version: 'v1.0.0',
  finish_reason: 'stop',
  usage: USAGE,
  token_ids: PIECES.map((_, index) => 100 + index),
  text: PIECES.join(''),
};

type Generate = (body: Record<string, unknown>, res: ServerResponse, req: IncomingMessage) => void | Promise<void>;

interface Fake {
  url: string;
  bodies: Record<string, unknown>[];
}

const servers: Server[] = [];

/** A fake modelops server: a healthy persona model, bearer auth, and `generate` for the generate route. */
async function fake(generate: Generate): Promise<Fake> {
  const bodies: Record<string, unknown>[] = [];
  const server = createServer((req, res) => {
    if (req.headers.authorization !== `Bearer ${TOKEN}`) {
      res.writeHead(401, { 'content-type': 'application/json' }).end(JSON.stringify({ error: 'missing or invalid bearer token' }));
      return;
    }
    if (req.method === 'GET' && req.url === HEALTH) {
      const metadata = { version: 'v1.0.0', task: 'text-generation' };
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ model_type: TYPE, version: 'v1.0.0', status: 'healthy', available: true, loadable: true, metadata }));
      return;
    }
    if (req.method !== 'POST' || req.url !== GENERATE) {
      res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ error: `no route ${req.url}` }));
      return;
    }
    let raw = '';
    req.on('data', (chunk: Buffer) => (raw += chunk.toString()));
    req.on('end', () => {
      const body = JSON.parse(raw) as Record<string, unknown>;
      bodies.push(body);
      void generate(body, res, req);
    });
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, bodies };
}

function sse(res: ServerResponse): void {
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
}

const event = (data: unknown): string => `data: ${JSON.stringify(data)}\n\n`;

async function connect(url: string, options: { token?: string; timeoutMs?: number } = {}): Promise<Model> {
  return createModelService({ mode: 'remote', baseUrl: url, token: options.token ?? TOKEN, timeoutMs: options.timeoutMs ?? 5_000 }).loadModel(TYPE);
}

async function collect(stream: AsyncIterable<GenerationChunk>): Promise<GenerationChunk[]> {
  const chunks: GenerationChunk[] = [];
  for await (const chunk of stream) chunks.push(chunk);
  return chunks;
}

describe('remote generation transport edge cases (fake SSE server)', () => {
  after(() => {
    for (const server of servers) {
      server.closeAllConnections();
      server.close();
    }
  });

  test('stream yields every chunk, however TCP splits the events, then the result', async () => {
    const server = await fake(async (_body, res) => {
      sse(res);
      res.write(': a comment line is ignored\n\n');
      const wire = PIECES.map((text, index) => event({ text, token_ids: [100 + index] })).join('') + event({ ...FINAL, done: true });
      for (let start = 0; start < wire.length; start += 7) {
        res.write(wire.slice(start, start + 7)); // splits lines, events and "\n\n" pairs
        await sleep(1);
      }
      res.end();
    });
    const model = await connect(server.url);
    const stream = model.stream(MESSAGES, { temperature: 0 });
    const chunks = await collect(stream);
    assert.deepEqual(
      chunks.map((chunk) => chunk.text),
      PIECES,
    );
    assert.deepEqual(chunks[1], { text: 'lo', tokenIds: [101] });
    const result = await stream.result;
    assert.equal(result.text, chunks.map((chunk) => chunk.text).join(''));
    assert.equal(result.finishReason, 'stop');
    assert.deepEqual(server.bodies[0], { messages: MESSAGES, stream: true, temperature: 0 });
  });

  test('an error event mid-stream rejects the iteration and the result', async () => {
    const server = await fake((_body, res) => {
      sse(res);
      res.write(event({ text: 'Hel', token_ids: [100] }));
      res.end(event({ error: 'generation deadline of 30 s exceeded' }));
    });
    const stream = (await connect(server.url)).stream(MESSAGES);
    const seen: string[] = [];
    await assert.rejects(
      (async () => {
        for await (const chunk of stream) seen.push(chunk.text);
      })(),
      (error: unknown) => error instanceof ServerError && error.serverMessage === 'generation deadline of 30 s exceeded',
    );
    assert.deepEqual(seen, ['Hel']);
    await assert.rejects(stream.result, ServerError);
  });

  test('a stream cut before its final event, or a malformed event, is a ServerError', async () => {
    for (const tail of ['', 'data: {not json\n\n']) {
      const server = await fake((_body, res) => {
        sse(res);
        res.end(event({ text: 'Hel', token_ids: [100] }) + tail);
      });
      await assert.rejects(collect((await connect(server.url)).stream(MESSAGES)), (error: unknown) => {
        assert.ok(error instanceof ServerError);
        assert.match(error.serverMessage, tail ? /^malformed event/ : /ended before its final event/);
        return true;
      });
    }
  });

  test('a stream that stalls is cut off by the idle timeout; cancel() aborts', async () => {
    const server = await fake((_body, res) => {
      sse(res);
      res.write(event({ text: 'Hel', token_ids: [100] })); // then nothing
    });
    const model = await connect(server.url, { timeoutMs: 300 });
    const started = Date.now();
    await assert.rejects(collect(model.stream(MESSAGES)), (error: unknown) => {
      assert.ok(error instanceof ConnectionError);
      assert.match(error.message, /timed out after 300 ms$/);
      return true;
    });
    assert.ok(Date.now() - started < 5_000);
    const controller = new AbortController();
    const cancelled = model.stream(MESSAGES, { signal: controller.signal, timeoutMs: 10_000 });
    setTimeout(() => controller.abort(), 100);
    await assert.rejects(collect(cancelled), /was cancelled$/);
  });

  test('bad messages and options are refused before any request', async () => {
    const server = await fake(() => assert.fail('no request may reach the server'));
    const model = await connect(server.url);
    const cases: [unknown, Record<string, number>, RegExp][] = [
      [[], {}, /^messages must be a non-empty array/],
      ['hello', {}, /^messages must be a non-empty array/],
      [[{ role: 'robot', content: 'x' }], {}, /^messages\[0\]\.role must be one of system, user, assistant/],
      [[{ role: 'user', content: 42 }], {}, /^messages\[0\]\.content must be a string/],
      [MESSAGES, { temperature: 3 }, /^temperature must be a number in 0\.\.2, got 3/],
      [MESSAGES, { maxNewTokens: 0 }, /^maxNewTokens must be an integer/],
      [MESSAGES, { maxNewTokens: 4, minNewTokens: 5 }, /^minNewTokens must be an integer in 0\.\.4, got 5/],
      [MESSAGES, { topP: 0 }, /^topP must be a number/],
    ];
    for (const [messages, options, message] of cases) {
      await assert.rejects(model.generate(messages, options), (error: unknown) => error instanceof InvalidInputError && message.test(error.message));
      assert.throws(() => model.stream(messages, options), InvalidInputError);
    }
    assert.equal(server.bodies.length, 0);
  });

  test('a local model refuses generation with a typed error', async () => {
    const { root, cleanup } = copyFixture('models');
    try {
      const local = await createModelService({ modelsDir: root }).loadModel('safety_classifier', 'v1.0.0');
      await assert.rejects(local.generate(MESSAGES), (error: unknown) => error instanceof InvalidInputError && /needs remote mode/.test(error.message));
      assert.throws(() => local.stream(MESSAGES), InvalidInputError);
    } finally {
      cleanup();
    }
  });
});
