/**
 * Remote mode: a modelops server (or a ModelDeployment's Service) called over HTTP with the seed predict,
 * generate and health routes, or the Open Inference Protocol v2 when asked. Bearer token, a timeout per
 * request (per event for a stream), bounded retries on connection errors only (never on an HTTP answer or
 * a timeout), and typed errors carrying the server's status and message. Called by the service (service.ts).
 */
import { setTimeout as sleep } from 'node:timers/promises';

import { AuthenticationError, ConnectionError, ModelNotFoundError, ServerError } from './errors.js';
import { GenerationStream, generateBody, sseData, toResult, type GenerateOptions, type GenerationResult } from './generate.js';
import { checkTexts, type TextLimits } from './texts.js';
import type { HealthDocument, Model, Prediction } from './types.js';

const RETRYABLE = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'EAI_AGAIN', 'UND_ERR_SOCKET', 'ECONNABORTED']);

export interface RemoteOptions extends TextLimits {
  baseUrl: string;
  token?: string;
  timeoutMs: number;
  retries: number;
}

function errorCode(error: unknown): string | undefined {
  const cause = (error as { cause?: { code?: string } }).cause;
  return cause?.code ?? (error as { code?: string }).code;
}

function parseJson(text: string): unknown {
  try {
    return text ? JSON.parse(text) : undefined;
  } catch {
    return undefined;
  }
}

/** The typed error for a non-2xx answer, with the server's `{error}` message (or its first line). */
function errorFor(response: Response, text: string, url: string): ServerError {
  const message = (parseJson(text) as { error?: string } | undefined)?.error ?? (text.split('\n')[0] || response.statusText);
  if (response.status === 401) return new AuthenticationError(401, message, url);
  return new ServerError(response.status, message, url);
}

/** A ConnectionError for an aborted request: the timeout that fired, or the caller's cancellation. */
export function abortError(what: string, url: string, signal: AbortSignal | undefined, timeoutMs: number): ConnectionError {
  const reason = signal?.reason as { name?: string } | undefined;
  const cancelled = signal?.aborted === true && reason?.name !== 'TimeoutError';
  return new ConnectionError(cancelled ? `${what} was cancelled` : `${what} timed out after ${timeoutMs} ms`, url);
}

interface SendOptions {
  /** Replaces the per-request timeout signal (the caller then owns cancellation and timeouts). */
  signal?: AbortSignal;
  timeoutMs?: number;
  accept?: string;
}

/** One HTTP endpoint with the client's retry, timeout and error rules. */
export class HttpClient {
  constructor(private readonly options: RemoteOptions) {}

  get timeoutMs(): number {
    return this.options.timeoutMs;
  }

  /** JSON request; `allow` lists non-2xx statuses returned to the caller instead of thrown (e.g. 503). */
  async request(method: string, route: string, body?: unknown, allow: number[] = [], options: SendOptions = {}): Promise<{ status: number; json: unknown }> {
    const url = new URL(route, this.options.baseUrl).toString();
    const response = await this.send(method, url, body, options);
    const text = await response.text();
    if (response.ok || allow.includes(response.status)) return { status: response.status, json: parseJson(text) };
    throw errorFor(response, text, url);
  }

  /** POST that answers with Server-Sent Events: the open response, or the typed error for its status. */
  async openStream(route: string, body: unknown, signal: AbortSignal): Promise<{ response: Response; url: string }> {
    const url = new URL(route, this.options.baseUrl).toString();
    const response = await this.send('POST', url, body, { signal, accept: 'text/event-stream' });
    if (response.ok && response.body !== null) return { response, url };
    throw errorFor(response, await response.text(), url);
  }

  private async send(method: string, url: string, body: unknown, options: SendOptions): Promise<Response> {
    const headers: Record<string, string> = { accept: options.accept ?? 'application/json' };
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (this.options.token) headers['authorization'] = `Bearer ${this.options.token}`;
    const timeoutMs = options.timeoutMs ?? this.options.timeoutMs;
    for (let attempt = 0; ; attempt += 1) {
      const signal = options.signal ?? AbortSignal.timeout(timeoutMs);
      try {
        return await fetch(url, {
          method,
          headers,
          body: body === undefined ? undefined : JSON.stringify(body),
          signal,
        });
      } catch (error) {
        const name = (error as Error).name;
        if (name === 'TimeoutError' || name === 'AbortError') throw abortError(`${method} ${url}`, url, signal, timeoutMs);
        const code = errorCode(error) ?? 'unknown error';
        if (!RETRYABLE.has(code) || attempt >= this.options.retries) {
          throw new ConnectionError(`${method} ${url} failed after ${attempt + 1} attempt(s): ${code}`, url);
        }
        await sleep(100 * 2 ** attempt);
      }
    }
  }
}

interface SeedAnswer {
  label?: string;
  scores?: Record<string, number>;
  predictions?: Prediction[];
}

/** A model served by a modelops server; `version` is the one the server reported healthy. */
export class RemoteModel implements Model {
  private constructor(
    readonly modelType: string,
    readonly version: string,
    readonly labels: readonly string[],
    private readonly client: HttpClient,
    private readonly options: RemoteOptions,
  ) {}

  /** Health must answer healthy (else ServerError with the server's reason) and serve `version`. */
  static async connect(modelType: string, version: string, options: RemoteOptions): Promise<RemoteModel> {
    const client = new HttpClient(options);
    const document = await fetchHealth(client, modelType);
    if (document.status !== 'healthy') {
      throw new ServerError(503, document.reason ?? 'model is not ready', new URL(healthRoute(modelType), options.baseUrl).toString());
    }
    if (version !== 'latest' && document.version !== version) {
      throw new ModelNotFoundError(`${options.baseUrl} serves ${modelType} ${document.version}, not ${version}`);
    }
    const labels = (document.metadata['labels'] as string[] | undefined) ?? [];
    return new RemoteModel(modelType, document.version, labels, client, options);
  }

  predict(text: string): Promise<Prediction>;
  predict(texts: string[]): Promise<Prediction[]>;
  predict(input: string | string[]): Promise<Prediction | Prediction[]>;
  async predict(input: string | string[]): Promise<Prediction | Prediction[]> {
    const { texts, single } = checkTexts(input, this.options);
    const body = single ? { text: texts[0] } : { texts };
    const { json } = await this.client.request('POST', `/api/v1/ml-models/${this.modelType}/predict`, body);
    const answer = json as SeedAnswer;
    if (single) return { label: answer.label!, scores: answer.scores! };
    return answer.predictions!.map(({ label, scores }) => ({ label, scores }));
  }

  /** Open Inference Protocol v2 infer, passed through (`{inputs: [...]}` -> `{outputs: [...]}`). */
  async infer(request: { inputs: unknown[]; id?: string; outputs?: unknown[] }): Promise<unknown> {
    const { json } = await this.client.request('POST', `/v2/models/${this.modelType}/infer`, request);
    return json;
  }

  /** Generate an answer to the chat `messages` (the server must serve a text-generation model). */
  async generate(messages: unknown, options: GenerateOptions = {}): Promise<GenerationResult> {
    const body = generateBody(messages, options, false);
    const route = generateRoute(this.modelType);
    const timeoutMs = options.timeoutMs ?? this.client.timeoutMs;
    const signal = options.signal === undefined ? undefined : AbortSignal.any([options.signal, AbortSignal.timeout(timeoutMs)]);
    const { json } = await this.client.request('POST', route, body, [], { timeoutMs, signal });
    return toResult(json, new URL(route, this.options.baseUrl).toString());
  }

  /**
   * Stream the answer: `for await (const chunk of model.stream(messages)) ...`, then `await stream.result`.
   * Checks the input at once; the request starts with the iteration. `timeoutMs` bounds the wait for the
   * answer's headers and then for each event.
   */
  stream(messages: unknown, options: GenerateOptions = {}): GenerationStream {
    const body = generateBody(messages, options, true);
    const route = generateRoute(this.modelType);
    const url = new URL(route, this.options.baseUrl).toString();
    const timeoutMs = options.timeoutMs ?? this.client.timeoutMs;
    const abort = new AbortController();
    if (options.signal !== undefined) {
      if (options.signal.aborted) abort.abort(options.signal.reason);
      else options.signal.addEventListener('abort', () => abort.abort(options.signal?.reason), { once: true });
    }
    const client = this.client;
    async function* events(): AsyncGenerator<string> {
      const idle = new IdleTimer(abort, timeoutMs);
      try {
        const { response } = await client.openStream(route, body, abort.signal);
        idle.reset();
        for await (const data of sseData(response.body as AsyncIterable<Uint8Array>)) {
          idle.reset();
          yield data;
        }
      } catch (error) {
        const name = (error as Error).name;
        if (abort.signal.aborted && (name === 'AbortError' || name === 'TimeoutError' || name === 'TypeError')) {
          throw abortError(`POST ${url}`, url, abort.signal, timeoutMs);
        }
        throw error;
      } finally {
        idle.clear();
      }
    }
    return new GenerationStream(events, url, abort);
  }

  health(): Promise<HealthDocument> {
    return fetchHealth(this.client, this.modelType);
  }
}

/** Aborts `abort` with a TimeoutError when `reset` is not called for `timeoutMs`. */
class IdleTimer {
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly abort: AbortController,
    private readonly timeoutMs: number,
  ) {
    this.reset();
  }

  reset(): void {
    this.clear();
    this.timer = setTimeout(() => this.abort.abort(new DOMException('timed out', 'TimeoutError')), this.timeoutMs);
  }

  clear(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
  }
}

function generateRoute(modelType: string): string {
  return `/api/v1/ml-models/${modelType}/generate`;
}

function healthRoute(modelType: string): string {
  return `/api/v1/ml-models/${modelType}/health`;
}

/** The server's seed health document, 200 or 503 alike (404 for a type it does not serve). */
export async function fetchHealth(client: HttpClient, modelType: string): Promise<HealthDocument> {
  try {
    const { json } = await client.request('GET', healthRoute(modelType), undefined, [503]);
    return json as HealthDocument;
  } catch (error) {
    if (error instanceof ServerError && error.status === 404) throw new ModelNotFoundError(error.serverMessage);
    throw error;
  }
}
