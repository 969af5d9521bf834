/**
 * The public shapes of @modelops/client: predictions, the seed's health document, the model interface
 * both modes implement, and the service options. Kept apart so local.ts and remote.ts share them.
 */
import type { GenerateOptions, GenerationResult, GenerationStream } from './generate.js';

/** One prediction: the best label and every label's probability. */
export interface Prediction {
  label: string;
  scores: Record<string, number>;
}

/** The seed's `GET /api/v1/ml-models/:type/health` document (same fields as the Python server). */
export interface HealthDocument {
  model_type: string;
  version: string;
  status: 'healthy' | 'unhealthy';
  available: boolean;
  loadable: boolean;
  metadata: Record<string, unknown>;
  reason?: string;
}

/** A loaded model, local or remote. */
export interface Model {
  readonly modelType: string;
  readonly version: string;
  readonly labels: readonly string[];
  predict(text: string): Promise<Prediction>;
  predict(texts: string[]): Promise<Prediction[]>;
  predict(input: string | string[]): Promise<Prediction | Prediction[]>;
  /** Text generation from chat messages (remote mode; a local model rejects with InvalidInputError). */
  generate(messages: unknown, options?: GenerateOptions): Promise<GenerationResult>;
  /** The same, streamed: iterate the chunks, then `await .result`. */
  stream(messages: unknown, options?: GenerateOptions): GenerationStream;
  health(): Promise<HealthDocument>;
}

export type Mode = 'local' | 'remote';

export interface ModelServiceOptions {
  /** Root of the seed's models volume: `<modelsDir>/<type>/<version>/`. */
  modelsDir?: string;
  mode?: Mode;
  /** Remote mode: one server for every type, or one base URL per model type. */
  baseUrl?: string | Record<string, string>;
  /** Remote mode: the bearer token the server expects. */
  token?: string;
  /** Local mode: PEM public key (path or PEM text) that must have signed each model (model.sig). */
  publicKey?: string;
  /** Local mode: refuse unsigned models when a public key is set (the server's --require-signature). */
  requireSignature?: boolean;
  /** Local mode: ONNX Runtime intra-op threads per model (default 1, as the server). */
  threads?: number;
  /** Remote mode: per-request timeout in milliseconds (default 10000). */
  timeoutMs?: number;
  /** Remote mode: retries on connection errors only (default 2). */
  retries?: number;
  maxTextChars?: number;
  maxTexts?: number;
}
