/**
 * The seed's `ml-model.service` as a factory: `createModelService(options)` returns the object the seed's
 * backend calls (`loadModel`, `isModelAvailable`, `listAvailableModels`, `health`). It finds
 * `<modelsDir>/<type>/<version>/` (following `latest`) with the Python loader's reason texts, caches loaded
 * models, shares one load between concurrent callers and never caches a failed load.
 */
import { readdir, realpath, stat } from 'node:fs/promises';
import path from 'node:path';

import { InvalidInputError, ModelNotFoundError, ModelOpsError, pyRepr } from './errors.js';
import { loadLocalModel, type LocalOptions, type ModelLocation } from './local.js';
import { HttpClient, RemoteModel, fetchHealth, type RemoteOptions } from './remote.js';
import { compareVersions, isVersion } from './semver.js';
import { DEFAULT_MAX_TEXTS, DEFAULT_MAX_TEXT_CHARS } from './texts.js';
import type { HealthDocument, Model, ModelServiceOptions } from './types.js';

export const LATEST = 'latest';
const MODEL_TYPE_NAME = /^[a-z0-9][a-z0-9_-]*$/;

/** The seed's model types (any directory name of this form is accepted too). */
export const MODEL_TYPES = Object.freeze({
  SAFETY_CLASSIFIER: 'safety_classifier',
  INTENT_CLASSIFIER: 'intent_classifier',
  PERSONA_MODEL: 'persona_model',
} as const);

async function isDirectory(target: string): Promise<boolean> {
  return (await stat(target).catch(() => undefined))?.isDirectory() ?? false;
}

function checkNames(modelType: unknown, version: unknown): void {
  if (typeof modelType !== 'string' || !MODEL_TYPE_NAME.test(modelType)) {
    throw new InvalidInputError(`invalid model type ${JSON.stringify(modelType)}: expected a name like safety_classifier`);
  }
  if (typeof version !== 'string' || (version !== LATEST && !isVersion(version))) {
    throw new InvalidInputError(`invalid version ${JSON.stringify(version)}: expected 'latest' or a version like v1.2.3`);
  }
}

/** `<modelsDir>/<type>/<version>` or the target of `<type>/latest`; ModelNotFoundError saying what is missing. */
export async function locateModel(modelsDir: string, modelType: string, version: string): Promise<ModelLocation> {
  checkNames(modelType, version);
  const typeDir = path.join(modelsDir, modelType);
  if (!(await isDirectory(typeDir))) throw new ModelNotFoundError(`model type directory ${typeDir} does not exist`);
  if (version !== LATEST) {
    const directory = path.join(typeDir, version);
    if (!(await isDirectory(directory))) {
      throw new ModelNotFoundError(`model version directory ${directory} does not exist`);
    }
    return { modelType, version, directory };
  }
  const link = path.join(typeDir, LATEST);
  const directory = await realpath(link).catch(() => undefined);
  if (directory === undefined || !(await isDirectory(directory))) {
    throw new ModelNotFoundError(`${link} does not exist (no ${pyRepr(LATEST)} link to follow)`);
  }
  if (path.dirname(directory) !== (await realpath(typeDir))) {
    throw new ModelNotFoundError(`${link} points outside ${typeDir}`);
  }
  return { modelType, version: path.basename(directory), directory };
}

async function versionsOf(typeDir: string): Promise<string[]> {
  const entries = await readdir(typeDir, { withFileTypes: true });
  const versions = entries.filter((entry) => entry.isDirectory() && isVersion(entry.name)).map((entry) => entry.name);
  return versions.sort(compareVersions);
}

/** The object the seed's backend uses; one per models volume (or remote server set). */
export class ModelService {
  readonly mode: 'local' | 'remote';
  private readonly cache = new Map<string, Promise<Model>>();

  constructor(private readonly options: ModelServiceOptions) {
    this.mode = options.mode ?? 'local';
    if (this.mode === 'local' && options.modelsDir === undefined) {
      throw new InvalidInputError('local mode needs modelsDir (or MODELS_DIR)');
    }
  }

  /** Load (once) and return the model; concurrent calls for the same version share one load. */
  async loadModel(modelType: string, version: string = LATEST): Promise<Model> {
    checkNames(modelType, version);
    if (this.mode === 'remote') return this.cached(`${modelType}@${version}`, () => this.connect(modelType, version));
    const location = await locateModel(this.modelsDir(), modelType, version);
    return this.cached(`${modelType}@${location.version}`, () => loadLocalModel(location, this.localOptions()));
  }

  /** True when the version directory exists (local), or the server serves that version healthy (remote). */
  async isModelAvailable(modelType: string, version: string = LATEST): Promise<boolean> {
    try {
      if (this.mode === 'remote') {
        const document = await this.health(modelType, version);
        return document.status === 'healthy' && (version === LATEST || document.version === version);
      }
      await locateModel(this.modelsDir(), modelType, version);
      return true;
    } catch (error) {
      if (error instanceof ModelOpsError) return false;
      throw error;
    }
  }

  /** `{ type: [versions sorted by semver] }`: local directories, or what each remote server serves. */
  async listAvailableModels(): Promise<Record<string, string[]>> {
    if (this.mode === 'remote') return this.listRemote();
    const root = this.modelsDir();
    const entries = await readdir(root, { withFileTypes: true }).catch(() => []);
    const result: Record<string, string[]> = {};
    for (const entry of entries.sort((a, b) => (a.name < b.name ? -1 : 1))) {
      if (!entry.isDirectory() || !MODEL_TYPE_NAME.test(entry.name)) continue;
      const versions = await versionsOf(path.join(root, entry.name));
      if (versions.length > 0) result[entry.name] = versions;
    }
    return result;
  }

  /** The seed health document; never throws for a model that fails to load (status unhealthy + reason). */
  async health(modelType: string, version: string = LATEST): Promise<HealthDocument> {
    if (this.mode === 'remote') return fetchHealth(new HttpClient(this.remoteOptions(modelType)), modelType);
    let located = false;
    let shown = version;
    try {
      const location = await locateModel(this.modelsDir(), modelType, version);
      located = true;
      shown = location.version;
      return await (await this.loadModel(modelType, location.version)).health();
    } catch (error) {
      if (!(error instanceof ModelOpsError)) throw error;
      return {
        model_type: modelType,
        version: shown,
        status: 'unhealthy',
        available: located,
        loadable: false,
        metadata: { version: shown, deployed_at: null },
        reason: error.message,
      };
    }
  }

  /** Forget every cached model (the next loadModel verifies again). */
  clear(): void {
    this.cache.clear();
  }

  private cached(key: string, load: () => Promise<Model>): Promise<Model> {
    const existing = this.cache.get(key);
    if (existing !== undefined) return existing;
    const pending = load();
    this.cache.set(key, pending);
    pending.catch(() => {
      if (this.cache.get(key) === pending) this.cache.delete(key);
    });
    return pending;
  }

  private modelsDir(): string {
    return this.options.modelsDir!;
  }

  private localOptions(): LocalOptions {
    return {
      threads: this.options.threads ?? 1,
      publicKey: this.options.publicKey,
      requireSignature: this.options.requireSignature ?? false,
      maxTextChars: this.options.maxTextChars ?? DEFAULT_MAX_TEXT_CHARS,
      maxTexts: this.options.maxTexts ?? DEFAULT_MAX_TEXTS,
    };
  }

  private remoteOptions(modelType: string): RemoteOptions {
    const base = this.options.baseUrl;
    if (base === undefined) throw new InvalidInputError('remote mode needs baseUrl (the modelops server URL)');
    const baseUrl = typeof base === 'string' ? base : base[modelType];
    if (baseUrl === undefined) throw new ModelNotFoundError(`no baseUrl configured for model type ${modelType}`);
    return {
      baseUrl,
      token: this.options.token,
      timeoutMs: this.options.timeoutMs ?? 10_000,
      retries: this.options.retries ?? 2,
      maxTextChars: this.options.maxTextChars ?? DEFAULT_MAX_TEXT_CHARS,
      maxTexts: this.options.maxTexts ?? DEFAULT_MAX_TEXTS,
    };
  }

  private connect(modelType: string, version: string): Promise<RemoteModel> {
    return RemoteModel.connect(modelType, version, this.remoteOptions(modelType));
  }

  private async listRemote(): Promise<Record<string, string[]>> {
    const base = this.options.baseUrl ?? '';
    const types = typeof base === 'string' ? Object.values(MODEL_TYPES) : Object.keys(base).sort();
    const result: Record<string, string[]> = {};
    for (const modelType of types) {
      const document = await this.health(modelType).catch(() => undefined);
      if (document?.status === 'healthy') result[modelType] = [document.version];
    }
    return result;
  }
}

/** Build a model service; nothing is read until the first call. */
export function createModelService(options: ModelServiceOptions): ModelService {
  return new ModelService(options);
}
