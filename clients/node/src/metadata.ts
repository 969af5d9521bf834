/**
 * metadata.json parsing, mirroring modelops/package/metadata.py field by field, so a malformed file is
 * refused with the Python server's reason text. Called by the local loader on the verified bytes.
 */
import { VerificationError, pyRepr, pyTypeName } from './errors.js';

export const METADATA_NAME = 'metadata.json';

export interface TensorSpec {
  name: string;
  dtype: string;
  shape: (number | string)[];
}

export interface Golden {
  text: string;
  label: string;
  scores: Record<string, number>;
  tolerance: number;
}

export interface ModelMetadata {
  modelType: string;
  version: string;
  labels: string[];
  inputs: TensorSpec[];
  outputs: TensorSpec[];
  maxLength: number;
  golden: Golden | undefined;
  createdAt: string;
  framework: string;
}

type Kind = 'str' | 'list' | 'dict';
type JsonObject = Record<string, unknown>;

function requireMapping(data: unknown, where: string): JsonObject {
  if (pyTypeName(data) !== 'dict') {
    throw new VerificationError(`${where}: expected an object, got ${pyTypeName(data)}`);
  }
  return data as JsonObject;
}

function requireField(mapping: JsonObject, key: string, kind: Kind, where: string): unknown {
  if (!(key in mapping)) throw new VerificationError(`${where}: missing field ${pyRepr(key)}`);
  const value = mapping[key];
  if (pyTypeName(value) !== kind) {
    throw new VerificationError(`${where}: field ${pyRepr(key)} must be ${kind}, got ${pyTypeName(value)}`);
  }
  return value;
}

function tensorSpec(data: unknown): TensorSpec {
  const mapping = requireMapping(data, 'tensor spec');
  return {
    name: requireField(mapping, 'name', 'str', 'tensor spec') as string,
    dtype: requireField(mapping, 'dtype', 'str', 'tensor spec') as string,
    shape: requireField(mapping, 'shape', 'list', 'tensor spec') as (number | string)[],
  };
}

function golden(data: unknown): Golden {
  const mapping = requireMapping(data, 'golden');
  const scores = requireField(mapping, 'scores', 'dict', 'golden') as Record<string, unknown>;
  return {
    text: requireField(mapping, 'text', 'str', 'golden') as string,
    label: requireField(mapping, 'label', 'str', 'golden') as string,
    scores: Object.fromEntries(Object.entries(scores).map(([key, value]) => [key, Number(value)])),
    tolerance: mapping['tolerance'] === undefined ? 1e-4 : Number(mapping['tolerance']),
  };
}

function list(mapping: JsonObject, key: string): unknown[] {
  const value = mapping[key];
  return Array.isArray(value) ? value : [];
}

function text(value: unknown, fallback: string): string {
  if (value === undefined || value === null) return fallback;
  return typeof value === 'string' ? value : JSON.stringify(value);
}

/** Parse and validate; throw VerificationError naming the missing or mistyped field. */
export function parseMetadata(data: unknown): ModelMetadata {
  const mapping = requireMapping(data, 'metadata');
  const labels = requireField(mapping, 'labels', 'list', 'metadata') as unknown[];
  if (labels.length === 0 || !labels.every((label) => typeof label === 'string')) {
    throw new VerificationError("metadata: 'labels' must be a non-empty list of strings");
  }
  const goldenData = mapping['golden'];
  return {
    modelType: requireField(mapping, 'model_type', 'str', 'metadata') as string,
    version: requireField(mapping, 'version', 'str', 'metadata') as string,
    labels,
    inputs: list(mapping, 'inputs').map(tensorSpec),
    outputs: list(mapping, 'outputs').map(tensorSpec),
    maxLength: mapping['max_length'] === undefined ? 64 : Math.trunc(Number(mapping['max_length'])),
    golden: goldenData === undefined || goldenData === null ? undefined : golden(goldenData),
    createdAt: text(mapping['created_at'], ''),
    framework: text(mapping['framework'], 'onnx'),
  };
}

/** metadata.json from its verified bytes, checked against the directory it sits in. */
export function loadMetadata(data: Buffer | undefined, version: string, modelType: string): ModelMetadata {
  if (data === undefined) throw new VerificationError(`missing file ${METADATA_NAME}`);
  let document: unknown;
  try {
    document = JSON.parse(data.toString('utf8'));
  } catch (error) {
    throw new VerificationError(`${METADATA_NAME} is not readable JSON: ${(error as Error).message}`);
  }
  const metadata = parseMetadata(document);
  if (metadata.modelType !== modelType) {
    throw new VerificationError(
      `metadata.json model_type is ${pyRepr(metadata.modelType)}, expected ${pyRepr(modelType)}`,
    );
  }
  if (metadata.version !== version) {
    throw new VerificationError(
      `metadata.json version is ${pyRepr(metadata.version)}, expected ${pyRepr(version)}`,
    );
  }
  return metadata;
}
