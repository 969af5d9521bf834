/**
 * The ONNX side of a local model: create the onnxruntime-node session from verified bytes and check its
 * inputs, outputs and class count against metadata.json, as server/modelops_server/verify.py does.
 * Called by the local loader; failures are VerificationErrors with the Python server's reason text.
 */
import * as ort from 'onnxruntime-node';

import { VerificationError } from './errors.js';
import type { ModelMetadata, TensorSpec } from './metadata.js';

export const MODEL_FILE = 'model.onnx';
const DTYPE_ALIASES: Record<string, string> = { float: 'float32', double: 'float64', long: 'int64', int: 'int32' };

function firstLine(error: unknown): string {
  const text = (error instanceof Error ? error.message : String(error)).trim() || 'Error';
  return text.split('\n')[0]!.slice(0, 300);
}

/** A CPU session with the server's settings (sequential, all graph optimisations, `threads` intra-op). */
export async function createSession(bytes: Buffer, threads: number): Promise<ort.InferenceSession> {
  try {
    return await ort.InferenceSession.create(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.length), {
      executionProviders: ['cpu'],
      intraOpNumThreads: threads,
      interOpNumThreads: 1,
      executionMode: 'sequential',
      graphOptimizationLevel: 'all',
    });
  } catch (error) {
    throw new VerificationError(`${MODEL_FILE} is not a valid ONNX model: ${firstLine(error)}`);
  }
}

function entries(values: readonly ort.InferenceSession.ValueMetadata[]): Record<string, string> {
  return Object.fromEntries(values.map((value) => [value.name, value.isTensor ? value.type : 'object']));
}

function describe(values: Record<string, string>): string {
  const parts = Object.keys(values)
    .sort()
    .map((name) => `${name}:${values[name]}`);
  return `[${parts.join(', ')}]`;
}

function compare(kind: string, graph: Record<string, string>, declared: TensorSpec[]): void {
  if (declared.length === 0) return;
  const expected = Object.fromEntries(declared.map((spec) => [spec.name, DTYPE_ALIASES[spec.dtype] ?? spec.dtype]));
  if (describe(expected) !== describe(graph)) {
    throw new VerificationError(
      `${MODEL_FILE} ${kind} ${describe(graph)} do not match metadata.json ${kind} ${describe(expected)}`,
    );
  }
}

/** The graph's inputs/outputs against metadata, and the class count against the labels. */
export function checkSession(session: ort.InferenceSession, metadata: ModelMetadata): void {
  compare('inputs', entries(session.inputMetadata), metadata.inputs);
  compare('outputs', entries(session.outputMetadata), metadata.outputs);
  const first = session.outputMetadata[0];
  const dims = first?.isTensor ? first.shape : [];
  const last = dims.length > 0 ? dims[dims.length - 1] : 0;
  if (typeof last === 'number' && last > 0 && last !== metadata.labels.length) {
    throw new VerificationError(
      `${MODEL_FILE} output has ${last} classes but metadata.json lists ${metadata.labels.length} labels`,
    );
  }
}
