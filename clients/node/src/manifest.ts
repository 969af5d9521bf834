/**
 * manifest.json checks, mirroring modelops/package/manifest.py: the sha256 of every listed file, no
 * unlisted file, no symbolic link. Called by the local loader before any byte reaches onnxruntime-node;
 * the bytes that were hashed are the bytes handed on, so a file swapped after the check is never loaded.
 * Failures are IntegrityErrors whose reason is the Python server's text.
 */
import { createHash } from 'node:crypto';
import { lstat, readdir, readFile } from 'node:fs/promises';
import path from 'node:path';

import { IntegrityError, pyRepr } from './errors.js';

export const MANIFEST_NAME = 'manifest.json';
export const SIGNATURE_NAME = 'model.sig';
export const MANIFEST_SCHEMA = 'modelops.io/manifest/v1';
const NOT_LISTED = new Set([MANIFEST_NAME, SIGNATURE_NAME]);

/** The verified directory: its artifact digest (sha256 of manifest.json) and the bytes of each file. */
export interface VerifiedFiles {
  digest: string;
  files: Map<string, Buffer>;
  /** sha256 of every file of the directory but model.sig, manifest.json included (for the signature). */
  digests: Map<string, string>;
}

export function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

async function walk(root: string, relative: string, found: string[]): Promise<void> {
  const entries = await readdir(path.join(root, relative), { withFileTypes: true });
  for (const entry of entries) {
    const child = relative ? `${relative}/${entry.name}` : entry.name;
    if (entry.isSymbolicLink()) {
      throw new IntegrityError(`symbolic link ${child} is not allowed in a model directory`);
    }
    if (entry.isDirectory()) await walk(root, child, found);
    else if (entry.isFile() && !NOT_LISTED.has(child)) found.push(child);
  }
}

/** Relative POSIX paths of every file the manifest must list, sorted. */
export async function payloadFiles(root: string): Promise<string[]> {
  const found: string[] = [];
  await walk(root, '', found);
  return found.sort();
}

async function readManifest(root: string): Promise<{ raw: Buffer; files: Record<string, string> }> {
  let raw: Buffer;
  try {
    raw = await readFile(path.join(root, MANIFEST_NAME));
  } catch {
    throw new IntegrityError(`missing file ${MANIFEST_NAME}`);
  }
  let document: unknown;
  try {
    document = JSON.parse(raw.toString('utf8'));
  } catch (error) {
    throw new IntegrityError(`${MANIFEST_NAME} is not readable JSON: ${(error as Error).message}`);
  }
  if (typeof document !== 'object' || document === null || Array.isArray(document)) {
    throw new IntegrityError(`${MANIFEST_NAME}: schema must be ${pyRepr(MANIFEST_SCHEMA)}`);
  }
  const record = document as Record<string, unknown>;
  if (record['schema'] !== MANIFEST_SCHEMA) {
    throw new IntegrityError(`${MANIFEST_NAME}: schema must be ${pyRepr(MANIFEST_SCHEMA)}`);
  }
  const files = record['files'];
  if (
    typeof files !== 'object' ||
    files === null ||
    Array.isArray(files) ||
    !Object.values(files).every((value) => typeof value === 'string')
  ) {
    throw new IntegrityError(`${MANIFEST_NAME}: 'files' must map paths to sha256 hex strings`);
  }
  return { raw, files: files as Record<string, string> };
}

function isUnsafe(relative: string): boolean {
  return path.posix.isAbsolute(relative) || relative.split('/').includes('..');
}

async function readListed(root: string, relative: string, expected: string): Promise<Buffer> {
  if (isUnsafe(relative)) {
    throw new IntegrityError(`${MANIFEST_NAME} lists an unsafe path ${pyRepr(relative)}`);
  }
  const full = path.join(root, relative);
  const stat = await lstat(full).catch(() => undefined);
  if (!stat?.isFile()) throw new IntegrityError(`missing file ${relative}`);
  const data = await readFile(full);
  const actual = sha256(data);
  if (actual !== expected.toLowerCase()) {
    throw new IntegrityError(`sha256 mismatch for ${relative}: expected ${expected}, got ${actual}`);
  }
  return data;
}

/**
 * Check the pinned digest (when given), every listed file, then that no file is unlisted; keep the bytes
 * of the files in `keep` (the ones the loader reads).
 */
export async function verifyManifest(
  root: string,
  keep: ReadonlySet<string>,
  expectedDigest?: string,
): Promise<VerifiedFiles> {
  const { raw, files: listed } = await readManifest(root);
  const digest = sha256(raw);
  if (expectedDigest) {
    const expected = expectedDigest.trim().toLowerCase().replace(/^sha256:/, '');
    if (digest !== expected) {
      throw new IntegrityError(`sha256 mismatch for ${MANIFEST_NAME}: expected ${expected}, got ${digest}`);
    }
  }
  const files = new Map<string, Buffer>();
  const digests = new Map<string, string>([[MANIFEST_NAME, digest]]);
  for (const relative of Object.keys(listed).sort()) {
    const data = await readListed(root, relative, listed[relative]!);
    digests.set(relative, listed[relative]!.toLowerCase());
    if (keep.has(relative)) files.set(relative, data);
  }
  const unlisted = (await payloadFiles(root)).filter((name) => !(name in listed));
  if (unlisted.length > 0) {
    throw new IntegrityError(`unexpected file ${unlisted[0]} is not listed in ${MANIFEST_NAME}`);
  }
  return { digest, files, digests };
}
