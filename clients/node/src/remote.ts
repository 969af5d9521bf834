/**
 * Remote mode: a modelops server (or a ModelDeployment's Service) called over HTTP with the seed predict
 * and health routes, or the Open Inference Protocol v2 when asked. Bearer token, a timeout per request,
 * bounded retries on connection errors only (never on an HTTP answer or a timeout), and typed errors
 * carrying the server's status and message. Called by the service (service.ts).
 */
import { setTimeout as sleep } from 'node:timers/promises';

import { AuthenticationError, ConnectionError, ModelNotFoundError, ServerError } from './errors.js';
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

/** One HTTP endpoint with the client's retry, timeout and error rules. */
export class HttpClient {
  constructor(private readonly options: RemoteOptions) {}

  /** JSON request; `allow` lists non-2xx statuses returned to the caller instead of thrown (e.g. 503). */
  async request(method: string, route: string, body?: unknown, allow: number[] = []): Promise<{ status: number; json: unknown }> {
    const url = new URL(route, this.options.baseUrl).toString();
    const response = await this.send(method, url, body);
    const text = await response.text();
    let json: unknown = undefined;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      json = undefined;
    }
    if (response.ok || allow.includes(response.status)) return { status: response.status, json };
    const message = (json as { error?: string } | undefined)?.error ?? (text.split('\n')[0] || response.statusText);
    if (response.status === 401) throw new AuthenticationError(401, message, url);
    throw new ServerError(response.status, message, url);
  }

  private async send(method: string, url: string, body: unknown): Promise<Response> {
    const headers: Record<string, string> = { accept: 'application/json' };
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (this.options.token) headers['authorization'] = `Bearer ${this.options.token}`;
    for (let attempt = 0; ; attempt += 1) {
      try {
        return await fetch(url, {
          method,
          headers,
          body: body === undefined ? undefined : JSON.stringify(body),
          signal: AbortSignal.timeout(this.options.timeoutMs),
        });
      } catch (error) {
        const name = (error as Error).name;
        if (name === 'TimeoutError' || name === 'AbortError') {
          throw new ConnectionError(`${method} ${url} timed out after ${this.options.timeoutMs} ms`, url);
        }
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
    private readonly limits: TextLimits,
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
    const { texts, single } = checkTexts(input, this.limits);
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

  health(): Promise<HealthDocument> {
    return fetchHealth(this.client, this.modelType);
  }
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
