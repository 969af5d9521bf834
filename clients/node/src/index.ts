/**
 * @modelops/client: modelops models for a Node.js backend, in-process (onnxruntime-node) or remote.
 * `mlModelService` is the seed's default instance, configured from the environment (`MODELS_DIR`, and
 * `MODELOPS_MODE`, `MODELOPS_SERVER_URL`, `MODELOPS_TOKEN` for remote mode); it reads nothing until used.
 */
import { createModelService, type ModelService } from './service.js';
import type { Mode } from './types.js';

export * from './errors.js';
export { GenerationStream } from './generate.js';
export type { ChatMessage, ChatRole, GenerateOptions, GenerationChunk, GenerationResult, TokenUsage } from './generate.js';
export { LocalModel } from './local.js';
export { RemoteModel } from './remote.js';
export { compareVersions } from './semver.js';
export { LATEST, MODEL_TYPES, ModelService, createModelService, locateModel } from './service.js';
export type { HealthDocument, Mode, Model, ModelServiceOptions, Prediction } from './types.js';

/** Options from the environment: the seed's MODELS_DIR volume convention. */
export function optionsFromEnv(env: NodeJS.ProcessEnv = process.env): Parameters<typeof createModelService>[0] {
  const mode: Mode = env['MODELOPS_MODE'] === 'remote' ? 'remote' : 'local';
  return {
    mode,
    modelsDir: env['MODELS_DIR'] ?? '/app/models',
    baseUrl: env['MODELOPS_SERVER_URL'],
    token: env['MODELOPS_TOKEN'],
    publicKey: env['MODELOPS_PUBLIC_KEY'],
    requireSignature: env['MODELOPS_REQUIRE_SIGNATURE'] === 'true',
  };
}

/** The seed's `mlModelService`, configured from the environment. */
export const mlModelService: ModelService = createModelService(optionsFromEnv());
export default mlModelService;
