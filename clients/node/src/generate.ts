/**
 * Text generation in remote mode: the modelops server's seed generate API,
 * `POST /api/v1/ml-models/:type/generate` with `{messages, max_new_tokens, min_new_tokens, temperature, top_p,
 * top_k, seed, stream}`. Without `stream` the answer is one JSON document (`{text, finish_reason, usage, token_ids}`);
 * with it, Server-Sent Events: `data: {text, token_ids}` per chunk, then `data: {..., done: true, text,
 * finish_reason, usage}`, or `data: {error}` when the generation fails after its first byte.
 * Messages and options are checked here (InvalidInputError naming the field) before anything is sent.
 * Called by RemoteModel (remote.ts); LocalModel refuses generation (classifiers only).
 */
import { ConnectionError, InvalidInputError, ServerError } from './errors.js';

export type ChatRole = 'system' | 'user' | 'assistant';

export interface ChatMessage {
  role: ChatRole;
  content: string;
}

export interface GenerateOptions {
  maxNewTokens?: number;
  /** The end of turn is not accepted before this many new tokens (at most maxNewTokens). */
  minNewTokens?: number;
  /** 0 is greedy decoding. */
  temperature?: number;
  topP?: number;
  topK?: number;
  seed?: number;
  /** Milliseconds for the whole answer (generate) or between two events (stream); default: the service's. */
  timeoutMs?: number;
  /** Cancels the request; a stream stops and the server ends the generation. */
  signal?: AbortSignal;
}

export interface TokenUsage {
  promptTokens: number;
  completionTokens: number;
  totalTokens: number;
}

/** A finished generation. `finishReason`: stop, length, deadline or cancelled (the server's words). */
export interface GenerationResult {
  text: string;
  finishReason: string;
  usage: TokenUsage;
  tokenIds: number[];
}

/** One streamed piece of new text. */
export interface GenerationChunk {
  text: string;
  tokenIds: number[];
}

const ROLES: readonly string[] = ['system', 'user', 'assistant'];

function checkMessages(messages: unknown): ChatMessage[] {
  if (!Array.isArray(messages) || messages.length === 0) {
    throw new InvalidInputError('messages must be a non-empty array of {role, content} objects');
  }
  return messages.map((item: unknown, index) => {
    const message = item as Partial<ChatMessage> | null;
    if (typeof message !== 'object' || message === null || !ROLES.includes(message.role as string)) {
      throw new InvalidInputError(`messages[${index}].role must be one of ${ROLES.join(', ')}`);
    }
    if (typeof message.content !== 'string') {
      throw new InvalidInputError(`messages[${index}].content must be a string`);
    }
    return { role: message.role!, content: message.content };
  });
}

function checkNumber(name: string, value: unknown, low: number, high: number, integer: boolean): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isFinite(value) || (integer && !Number.isInteger(value)) || value < low || value > high) {
    throw new InvalidInputError(`${name} must be ${integer ? 'an integer' : 'a number'} in ${low}..${high}, got ${JSON.stringify(value) ?? typeof value}`);
  }
  return value;
}

/** The seed generate request body; InvalidInputError names the first bad field. */
export function generateBody(messages: unknown, options: GenerateOptions, stream: boolean): Record<string, unknown> {
  const body: Record<string, unknown> = { messages: checkMessages(messages), stream };
  const fields: [string, unknown, number, number, boolean][] = [
    ['max_new_tokens', options.maxNewTokens, 1, 1_000_000, true],
    ['min_new_tokens', options.minNewTokens, 0, options.maxNewTokens ?? 1_000_000, true],
    ['temperature', options.temperature, 0, 2, false],
    ['top_p', options.topP, Number.MIN_VALUE, 1, false],
    ['top_k', options.topK, 1, 1000, true],
    ['seed', options.seed, 0, 2 ** 31 - 1, true],
  ];
  const names: Record<string, string> = { max_new_tokens: 'maxNewTokens', min_new_tokens: 'minNewTokens', top_p: 'topP', top_k: 'topK' };
  for (const [wire, value, low, high, integer] of fields) {
    const checked = checkNumber(names[wire] ?? wire, value, low, high, integer);
    if (checked !== undefined) body[wire] = checked;
  }
  return body;
}

interface WireFinal {
  text?: unknown;
  finish_reason?: unknown;
  usage?: { prompt_tokens?: number; completion_tokens?: number; total_tokens?: number };
  token_ids?: unknown;
  error?: unknown;
}

/** A server's final document as a GenerationResult; ServerError when it is not one. */
export function toResult(document: unknown, url: string): GenerationResult {
  const final = (document ?? {}) as WireFinal;
  if (typeof final.text !== 'string' || typeof final.finish_reason !== 'string') {
    throw new ServerError(502, 'the generate answer has no text and finish_reason', url);
  }
  const usage = final.usage ?? {};
  return {
    text: final.text,
    finishReason: final.finish_reason,
    usage: {
      promptTokens: usage.prompt_tokens ?? 0,
      completionTokens: usage.completion_tokens ?? 0,
      totalTokens: usage.total_tokens ?? 0,
    },
    tokenIds: Array.isArray(final.token_ids) ? (final.token_ids as number[]) : [],
  };
}

/** The `data:` payloads of a Server-Sent Events body, one string per event (comments and fields ignored). */
export async function* sseData(body: AsyncIterable<Uint8Array>): AsyncGenerator<string> {
  const decoder = new TextDecoder();
  let buffer = '';
  let data: string[] = [];
  for await (const bytes of body) {
    buffer += decoder.decode(bytes, { stream: true });
    let newline: number;
    while ((newline = buffer.search(/\r\n|\r|\n/)) >= 0) {
      const line = buffer.slice(0, newline);
      buffer = buffer.slice(newline + (buffer.startsWith('\r\n', newline) ? 2 : 1));
      if (line === '') {
        if (data.length > 0) yield data.join('\n');
        data = [];
      } else if (line.startsWith('data:')) {
        data.push(line.slice(line.startsWith('data: ') ? 6 : 5));
      }
    }
  }
  if (data.length > 0) yield data.join('\n');
}

/**
 * A streaming generation: iterate it (once) for the chunks; `result` resolves with the final document
 * after the last chunk (and rejects like the iteration does). `cancel()` stops it early.
 */
export class GenerationStream implements AsyncIterable<GenerationChunk> {
  readonly result: Promise<GenerationResult>;
  private settle!: { resolve: (result: GenerationResult) => void; reject: (error: unknown) => void };
  private started = false;

  constructor(
    private readonly events: () => AsyncGenerator<string>,
    private readonly url: string,
    private readonly abort: AbortController,
  ) {
    this.result = new Promise((resolve, reject) => {
      this.settle = { resolve, reject };
    });
    this.result.catch(() => undefined); // a caller that only iterates must not see an unhandled rejection
  }

  cancel(): void {
    this.abort.abort();
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<GenerationChunk> {
    if (this.started) throw new InvalidInputError('a generation stream can be iterated once');
    this.started = true;
    let settled = false;
    try {
      for await (const data of this.events()) {
        const event = parseEvent(data, this.url);
        if (event.error !== undefined) {
          throw new ServerError(500, typeof event.error === 'string' ? event.error : JSON.stringify(event.error), this.url);
        }
        if (event.done === true) {
          settled = true;
          this.settle.resolve(toResult(event, this.url));
          return;
        }
        const text = typeof event.text === 'string' ? event.text : '';
        yield { text, tokenIds: Array.isArray(event.token_ids) ? (event.token_ids as number[]) : [] };
      }
      throw new ServerError(502, 'the event stream ended before its final event', this.url);
    } catch (error) {
      settled = true;
      this.settle.reject(error);
      throw error;
    } finally {
      this.abort.abort(); // closes the connection when the caller stops early
      if (!settled) this.settle.reject(new ConnectionError('the stream was closed before its final event', this.url));
    }
  }
}

function parseEvent(data: string, url: string): WireFinal & { done?: boolean } {
  try {
    const event = JSON.parse(data) as unknown;
    if (typeof event === 'object' && event !== null) return event;
  } catch {
    // reported below
  }
  throw new ServerError(502, `malformed event: ${data.slice(0, 80)}`, url);
}
