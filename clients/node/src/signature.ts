/**
 * model-signing signatures (`model.sig`, a Sigstore bundle with a DSSE envelope over an in-toto statement),
 * verified with an elliptic-curve public key as the OpenSSF `model_signing` library does for
 * `modelctl sign`: key hint, ECDSA over the DSSE pre-authentication encoding, statement and predicate
 * types, the root digest over the resources, and every resource against the directory's files.
 * Called by the local loader after the manifest check, whose file digests it reuses.
 */
import { createHash, createPublicKey, verify, type KeyObject } from 'node:crypto';
import { access, readFile } from 'node:fs/promises';
import path from 'node:path';

import { IntegrityError } from './errors.js';
import { SIGNATURE_NAME } from './manifest.js';

const PAYLOAD_TYPE = 'application/vnd.in-toto+json';
const STATEMENT_TYPE = 'https://in-toto.io/Statement/v1';
const PREDICATE_TYPE = 'https://model_signing/signature/v1.0';
const CURVE_HASH: Record<string, string> = { prime256v1: 'sha256', secp384r1: 'sha384', secp521r1: 'sha512' };

export interface SignatureOptions {
  /** PEM public key, or the path of a PEM file. */
  publicKey?: string | undefined;
  requireSignature: boolean;
}

interface Resource {
  name: string;
  algorithm: string;
  digest: string;
}

interface Statement {
  _type?: string;
  predicateType?: string;
  subject?: { name?: string; digest?: { sha256?: string } }[];
  predicate?: { resources?: Resource[] };
}

class BadSignature extends Error {}

async function loadKey(publicKey: string): Promise<KeyObject> {
  let pem = publicKey;
  if (!publicKey.includes('-----BEGIN')) {
    try {
      await access(publicKey);
    } catch {
      throw new IntegrityError(`public key ${publicKey} does not exist`);
    }
    pem = await readFile(publicKey, 'utf8');
  }
  try {
    return createPublicKey(pem);
  } catch (error) {
    throw new IntegrityError(`public key cannot be read: ${(error as Error).message}`);
  }
}

/** DSSE pre-authentication encoding: what the ECDSA signature covers. */
function pae(payloadType: string, payload: Buffer): Buffer {
  const header = `DSSEv1 ${Buffer.byteLength(payloadType)} ${payloadType} ${payload.length} `;
  return Buffer.concat([Buffer.from(header, 'utf8'), payload]);
}

function checkEnvelope(bundle: unknown, key: KeyObject): Buffer {
  const document = bundle as {
    verificationMaterial?: { publicKey?: { hint?: string } };
    dsseEnvelope?: { payload?: string; payloadType?: string; signatures?: { sig?: string }[] };
  };
  const hint = document.verificationMaterial?.publicKey?.hint;
  const keyHash = createHash('sha256').update(key.export({ type: 'spki', format: 'pem' })).digest('hex');
  if (hint && hint !== keyHash) {
    throw new BadSignature(
      "Key mismatch: The public key hash in the signature's verification material does not match the provided public key. ",
    );
  }
  const envelope = document.dsseEnvelope;
  const sig = envelope?.signatures?.[0]?.sig;
  if (!envelope?.payload || !envelope.payloadType || !sig) throw new BadSignature('the bundle has no DSSE envelope');
  const payload = Buffer.from(envelope.payload, 'base64');
  const curve = key.asymmetricKeyDetails?.namedCurve ?? '';
  const hash = CURVE_HASH[curve];
  if (key.asymmetricKeyType !== 'ec' || hash === undefined) throw new BadSignature('Only elliptic curve keys are supported');
  if (!verify(hash, pae(envelope.payloadType, payload), key, Buffer.from(sig, 'base64'))) {
    throw new BadSignature('Signature verification failed');
  }
  if (envelope.payloadType !== PAYLOAD_TYPE) {
    throw new BadSignature(`Expected DSSE payload ${PAYLOAD_TYPE}, but got ${envelope.payloadType}`);
  }
  return payload;
}

function checkStatement(payload: Buffer, digests: ReadonlyMap<string, string>): void {
  const statement = JSON.parse(payload.toString('utf8')) as Statement;
  if (statement._type !== STATEMENT_TYPE) throw new BadSignature(`Expected in-toto ${STATEMENT_TYPE} payload, but got ${statement._type}`);
  if (statement.predicateType !== PREDICATE_TYPE) {
    throw new BadSignature(`Predicate type mismatch, expected ${PREDICATE_TYPE}, got ${statement.predicateType}`);
  }
  const resources = statement.predicate?.resources ?? [];
  const root = createHash('sha256');
  resources.forEach((resource) => root.update(Buffer.from(resource.digest, 'hex')));
  const expectedRoot = statement.subject?.[0]?.digest?.sha256;
  const obtained = root.digest('hex');
  if (statement.subject?.length !== 1 || obtained !== expectedRoot) {
    throw new BadSignature(`Manifest is inconsistent. Root digest is ${expectedRoot}, but the included resources hash to ${obtained}`);
  }
  const signed = new Map(resources.map((resource) => [resource.name, resource]));
  for (const [name, digest] of [...digests].sort(([a], [b]) => (a < b ? -1 : 1))) {
    const resource = signed.get(name);
    if (resource === undefined) throw new BadSignature(`file ${name} is not covered by the signature`);
    if (resource.algorithm !== 'sha256' || resource.digest !== digest) {
      throw new BadSignature(`file ${name} does not match the signature: signed ${resource.digest}, got ${digest}`);
    }
  }
  const missing = [...signed.keys()].filter((name) => !digests.has(name)).sort();
  if (missing.length > 0) throw new BadSignature(`signed file ${missing[0]} is missing`);
}

/**
 * Verify `model.sig` when a public key is configured; return whether the model is signed and verified.
 * `digests` are the sha256 of every file but model.sig (from the manifest check).
 */
export async function verifySignature(
  directory: string,
  options: SignatureOptions,
  digests: ReadonlyMap<string, string>,
): Promise<boolean> {
  if (options.publicKey === undefined) return false;
  let bundle: unknown;
  try {
    bundle = JSON.parse(await readFile(path.join(directory, SIGNATURE_NAME), 'utf8'));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') {
      throw new IntegrityError(`signature verification failed for ${SIGNATURE_NAME}: ${(error as Error).message}`);
    }
    if (options.requireSignature) {
      throw new IntegrityError(`missing signature ${SIGNATURE_NAME}: the model is unsigned and require-signature is set`);
    }
    return false;
  }
  const key = await loadKey(options.publicKey);
  try {
    checkStatement(checkEnvelope(bundle, key), digests);
  } catch (error) {
    const message = error instanceof BadSignature || error instanceof SyntaxError ? error.message : String(error);
    throw new IntegrityError(`signature verification failed for ${SIGNATURE_NAME}: ${message}`);
  }
  return true;
}
