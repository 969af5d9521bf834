/**
 * Local mode: a model directory verified and loaded in-process, in the order the Python server uses
 * (server/modelops_server/model.py): manifest digests, signature, metadata, ONNX session and I/O check,
 * tokenizer, warm-up, golden answer. Nothing reaches onnxruntime-node or the tokenizer before its bytes
 * matched manifest.json. Called by the service (service.ts), which caches the loaded models.
 */
import { performance } from 'node:perf_hooks';
import type * as ort from 'onnxruntime-node';
import { Tensor } from 'onnxruntime-node';
import { Tokenizer } from 'tokenizers';

import { InvalidInputError, ModelOpsError, VerificationError, pyRepr } from './errors.js';
import type { GenerationResult, GenerationStream } from './generate.js';
import { verifyManifest } from './manifest.js';
import { METADATA_NAME, loadMetadata, type ModelMetadata } from './metadata.js';
import { MODEL_FILE, checkSession, createSession } from './onnx.js';
import { verifySignature, type SignatureOptions } from './signature.js';
import { checkTexts, type TextLimits } from './texts.js';
import type { HealthDocument, Model, Prediction } from './types.js';

export const TOKENIZER_FILE = 'tokenizer.json';
const PROBABILITY_OUTPUTS = new Set(['probabilities', 'probs', 'scores']);
const WARM_UP_TEXTS = ['warm up', 'a slightly longer warm-up sentence for the model'];
const KEEP = new Set([MODEL_FILE, METADATA_NAME, TOKENIZER_FILE]);
const LOCAL_GENERATION = "local mode runs classifiers; text generation needs remote mode (mode: 'remote', baseUrl)";

type EncodingField = 'getIds' | 'getAttentionMask' | 'getTypeIds';
const ENCODING_FIELDS: Record<string, EncodingField> = {
  input_ids: 'getIds',
  attention_mask: 'getAttentionMask',
  token_type_ids: 'getTypeIds',
};

interface Encoding {
  getIds(): number[];
  getAttentionMask(): number[];
  getTypeIds(): number[];
}

/** Where a model lives and which version that directory holds (after following `latest`). */
export interface ModelLocation {
  modelType: string;
  version: string;
  directory: string;
}

export interface LocalOptions extends SignatureOptions, TextLimits {
  threads: number;
  expectedDigest?: string;
}

interface LoadFacts {
  digest: string;
  signed: boolean;
  loadSeconds: number;
  deployedAt: string;
}

function loadTokenizer(data: Buffer | undefined, maxLength: number): Tokenizer | undefined {
  if (data === undefined) return undefined;
  let tokenizer: Tokenizer;
  try {
    tokenizer = Tokenizer.fromString(data.toString('utf8'));
  } catch (error) {
    throw new VerificationError(`${TOKENIZER_FILE} cannot be loaded: ${(error as Error).message}`);
  }
  tokenizer.setTruncation(maxLength);
  const padId = tokenizer.tokenToId('[PAD]');
  tokenizer.setPadding({ padId: padId ?? 0, padToken: padId === null ? '<pad>' : '[PAD]' });
  return tokenizer;
}

function softmax(row: Float32Array): number[] {
  const max = Math.max(...row);
  const exp = Array.from(row, (value) => Math.exp(value - max));
  const sum = exp.reduce((total, value) => total + value, 0);
  return exp.map((value) => value / sum);
}

/** A verified, loaded text classifier: tokenizer + onnxruntime-node session + labels. */
export class LocalModel implements Model {
  readonly modelType: string;
  readonly version: string;
  readonly labels: readonly string[];

  constructor(
    readonly location: ModelLocation,
    readonly metadata: ModelMetadata,
    private readonly session: ort.InferenceSession,
    private readonly tokenizer: Tokenizer | undefined,
    private readonly limits: TextLimits,
    private facts: LoadFacts | undefined = undefined,
  ) {
    this.modelType = location.modelType;
    this.version = location.version;
    this.labels = [...metadata.labels];
  }

  predict(text: string): Promise<Prediction>;
  predict(texts: string[]): Promise<Prediction[]>;
  predict(input: string | string[]): Promise<Prediction | Prediction[]>;
  async predict(input: string | string[]): Promise<Prediction | Prediction[]> {
    const { texts, single } = checkTexts(input, this.limits);
    const rows = await this.run(texts);
    return single ? rows[0]! : rows;
  }

  /** Local mode runs classifiers only; generation goes to a modelops server (remote mode). */
  generate(): Promise<GenerationResult> {
    return Promise.reject(new InvalidInputError(LOCAL_GENERATION));
  }

  stream(): GenerationStream {
    throw new InvalidInputError(LOCAL_GENERATION);
  }

  /** Tokenize (padded to the longest text of this batch), run, softmax: the server's TextClassifier. */
  async run(texts: string[]): Promise<Prediction[]> {
    if (this.tokenizer === undefined) {
      throw new InvalidInputError('this model has no tokenizer.json; send token tensors to /v2/models/<name>/infer');
    }
    const encodings = (await this.tokenizer.encodeBatch(texts)) as Encoding[];
    const outputName = this.session.outputNames[0]!;
    const results = await this.session.run(this.feeds(encodings), [outputName]);
    const output = results[outputName]!;
    const width = Number(output.dims[output.dims.length - 1]);
    const data = output.data as Float32Array;
    return texts.map((_, index) => this.row(data.subarray(index * width, (index + 1) * width)));
  }

  private feeds(encodings: Encoding[]): Record<string, Tensor> {
    const length = encodings[0]!.getIds().length;
    const feeds: Record<string, Tensor> = {};
    for (const meta of this.session.inputMetadata) {
      const field = ENCODING_FIELDS[meta.name];
      if (field === undefined) throw new ModelOpsError(`model input ${pyRepr(meta.name)} is not a tokenizer output`);
      const values = encodings.flatMap((encoding) => encoding[field]());
      const dims = [encodings.length, length];
      feeds[meta.name] =
        meta.isTensor && meta.type === 'int32'
          ? new Tensor('int32', Int32Array.from(values), dims)
          : new Tensor('int64', BigInt64Array.from(values, (value) => BigInt(value)), dims);
    }
    return feeds;
  }

  private row(values: Float32Array): Prediction {
    const probabilities = PROBABILITY_OUTPUTS.has(this.session.outputNames[0]!) ? Array.from(values) : softmax(values);
    let best = 0;
    probabilities.forEach((value, index) => {
      if (value > probabilities[best]!) best = index;
    });
    const scores = Object.fromEntries(this.labels.map((label, index) => [label, probabilities[index]!]));
    return { label: this.labels[best]!, scores };
  }

  /** The model must reproduce metadata's golden label and scores (within tolerance). */
  async checkGolden(): Promise<void> {
    const golden = this.metadata.golden;
    if (golden === undefined || this.tokenizer === undefined) return;
    const [{ label, scores }] = (await this.run([golden.text])) as [Prediction];
    if (label !== golden.label) {
      throw new VerificationError(`golden check failed: expected label ${pyRepr(golden.label)}, got ${pyRepr(label)}`);
    }
    for (const name of Object.keys(golden.scores).sort()) {
      const expected = golden.scores[name]!;
      const actual = scores[name];
      if (actual === undefined || Math.abs(actual - expected) > golden.tolerance) {
        const message = `score for ${pyRepr(name)} is ${actual ?? 'None'}, expected ${expected} ± ${golden.tolerance}`;
        throw new VerificationError(`golden check failed: ${message}`);
      }
    }
  }

  setFacts(facts: LoadFacts): void {
    this.facts = facts;
  }

  /** The seed health document of a model that loaded (healthy by construction). */
  health(): Promise<HealthDocument> {
    const facts = this.facts;
    return Promise.resolve({
      model_type: this.modelType,
      version: this.version,
      status: 'healthy',
      available: true,
      loadable: true,
      metadata: {
        version: this.version,
        deployed_at: facts?.deployedAt ?? null,
        created_at: this.metadata.createdAt,
        framework: this.metadata.framework,
        labels: [...this.labels],
        sha256: facts?.digest ?? null,
        signed: facts?.signed ?? false,
        load_seconds: facts === undefined ? null : Math.round(facts.loadSeconds * 10_000) / 10_000,
      },
    });
  }
}

/** Verify, load, warm up and golden-check a located model; throw the typed error with the reason. */
export async function loadLocalModel(location: ModelLocation, options: LocalOptions): Promise<LocalModel> {
  const started = performance.now();
  const { digest, files, digests } = await verifyManifest(location.directory, KEEP, options.expectedDigest);
  const signed = await verifySignature(location.directory, options, digests);
  const metadata = loadMetadata(files.get(METADATA_NAME), location.version, location.modelType);
  const modelBytes = files.get(MODEL_FILE);
  if (modelBytes === undefined) throw new VerificationError(`missing file ${MODEL_FILE}`);
  const session = await createSession(modelBytes, options.threads);
  try {
    checkSession(session, metadata);
    const tokenizer = loadTokenizer(files.get(TOKENIZER_FILE), metadata.maxLength);
    const model = new LocalModel(location, metadata, session, tokenizer, options);
    if (tokenizer !== undefined) await model.run(WARM_UP_TEXTS);
    await model.checkGolden();
    const loadSeconds = (performance.now() - started) / 1000;
    model.setFacts({ digest, signed, loadSeconds, deployedAt: new Date().toISOString().replace(/\.\d{3}Z$/, '+00:00') });
    return model;
  } catch (error) {
    await session.release();
    throw error;
  }
}
