// Remote mode's transport rules on real sockets: a connection reset is retried (bounded) and then
// succeeds, an HTTP error answer is never retried, and a server that does not answer is cut off by the
// timeout without a retry. The modelops-server itself is exercised in remote.test.ts.
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, describe, test } from 'node:test';

import { ConnectionError, ServerError, createModelService } from '../src/index.js';

const HEALTHY = {
  model_type: 'safety_classifier',
  version: 'v1.0.0',
  status: 'healthy',
  available: true,
  loadable: true,
  metadata: { version: 'v1.0.0', labels: ['safe', 'risk'] },
};

async function serve(handler: (req: IncomingMessage, res: ServerResponse, count: number) => void): Promise<{ url: string; server: Server; count: () => number }> {
  let count = 0;
  const server = createServer((req, res) => {
    count += 1;
    handler(req, res, count);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, server, count: () => count };
}

describe('remote transport', () => {
  const servers: Server[] = [];
  after(() => {
    for (const server of servers) {
      server.closeAllConnections();
      server.close();
    }
  });

  test('a reset connection is retried, then the answer is used', async () => {
    const { url, server, count } = await serve((_req, res, n) => {
      if (n <= 2) {
        res.socket?.destroy();
        return;
      }
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify(HEALTHY));
    });
    servers.push(server);
    const model = await createModelService({ mode: 'remote', baseUrl: url, retries: 2 }).loadModel('safety_classifier');
    assert.equal(model.version, 'v1.0.0');
    assert.equal(count(), 3);
  });

  test('an HTTP error answer is not retried', async () => {
    const { url, server, count } = await serve((_req, res) => {
      res.statusCode = 500;
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ error: 'internal error: RuntimeError' }));
    });
    servers.push(server);
    await assert.rejects(createModelService({ mode: 'remote', baseUrl: url, retries: 3 }).loadModel('safety_classifier'), (error: unknown) => {
      assert.ok(error instanceof ServerError);
      assert.equal(error.status, 500);
      assert.equal(error.serverMessage, 'internal error: RuntimeError');
      return true;
    });
    assert.equal(count(), 1);
  });

  test('a server that does not answer is cut off by the timeout, once', async () => {
    const { url, server, count } = await serve(() => undefined); // accepts, never answers
    servers.push(server);
    const started = Date.now();
    await assert.rejects(
      createModelService({ mode: 'remote', baseUrl: url, timeoutMs: 300, retries: 3 }).loadModel('safety_classifier'),
      (error: unknown) => {
        assert.ok(error instanceof ConnectionError);
        assert.match(error.message, /timed out after 300 ms$/);
        return true;
      },
    );
    assert.ok(Date.now() - started < 5_000);
    assert.equal(count(), 1);
  });
});
