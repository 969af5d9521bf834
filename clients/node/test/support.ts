/**
 * Shared helpers for the Node tests: where the Python-written fixtures are, fresh copies of them to tamper
 * with, the Python server's reason for a directory, and a real `modelops-server` process on a free port.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';

import type { Prediction } from '../src/types.js';

const here = path.dirname(fileURLToPath(import.meta.url));
export const PACKAGE_ROOT = path.resolve(here, '..', '..');
export const REPO_ROOT = path.resolve(PACKAGE_ROOT, '..', '..');
export const FIXTURES = path.join(PACKAGE_ROOT, 'build', 'fixtures');
export const PYTHON = process.env['MODELOPS_PYTHON'] ?? path.join(REPO_ROOT, '.venv', 'bin', 'python');
const SERVER = path.join(path.dirname(PYTHON), 'modelops-server');
export const TOLERANCE = 1e-5;

export interface ModelVectors {
  model_type: string;
  version: string;
  single: Prediction[];
  batch: Prediction[];
}

export interface Vectors {
  texts: string[];
  models: ModelVectors[];
}

export function vectors(): Vectors {
  return JSON.parse(readFileSync(path.join(FIXTURES, 'vectors.json'), 'utf8')) as Vectors;
}

/** A private copy of a fixture directory (`models` or `signed`), removed with `cleanup`. */
export function copyFixture(name: 'models' | 'signed'): { root: string; cleanup: () => void } {
  const base = mkdtempSync(path.join(os.tmpdir(), 'modelops-node-'));
  const root = path.join(base, name);
  cpSync(path.join(FIXTURES, name), root, { recursive: true, verbatimSymlinks: true });
  return { root, cleanup: () => rmSync(base, { recursive: true, force: true }) };
}

/** The Python server's reason for each `type/version[/public-key]` under `modelsDir` (null = it loads). */
export function serverReasons(modelsDir: string, specs: string[]): Record<string, string | null> {
  const output = execFileSync(PYTHON, ['-m', 'support.node_fixtures', 'reasons', modelsDir, ...specs], {
    cwd: REPO_ROOT,
    env: { ...process.env, PYTHONPATH: path.join(REPO_ROOT, 'tests') },
    encoding: 'utf8',
  });
  return JSON.parse(output) as Record<string, string | null>;
}

/** Largest absolute score difference between two predictions with the same labels. */
export function maxScoreDiff(left: Prediction, right: Prediction): number {
  return Math.max(...Object.keys(right.scores).map((label) => Math.abs((left.scores[label] ?? Infinity) - right.scores[label]!)));
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

export interface RunningServer {
  url: string;
  stop: () => Promise<void>;
  output: () => string;
}

/** Start `modelops-server serve` on a free loopback port and wait until it answers /v2/health/live. */
export async function startServer(args: string[], deadlineMs = 60_000): Promise<RunningServer> {
  const port = await freePort();
  const child: ChildProcess = spawn(SERVER, ['serve', '--host', '127.0.0.1', '--port', String(port), ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let log = '';
  child.stdout?.on('data', (chunk: Buffer) => (log += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (log += chunk.toString()));
  const url = `http://127.0.0.1:${port}`;
  const stop = async (): Promise<void> => {
    if (child.exitCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    await exited;
  };
  const deadline = Date.now() + deadlineMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`modelops-server exited with ${child.exitCode}:\n${log}`);
    const live = await fetch(`${url}/v2/health/live`).then((r) => r.ok, () => false);
    if (live) return { url, stop, output: () => log };
    await sleep(100);
  }
  await stop();
  throw new Error(`modelops-server did not answer /v2/health/live within ${deadlineMs} ms:\n${log}`);
}

/** Poll `check` until it returns true or the deadline passes (then fail with `what`). */
export async function waitFor(what: string, check: () => Promise<boolean>, deadlineMs = 60_000): Promise<void> {
  const deadline = Date.now() + deadlineMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await sleep(100);
  }
  throw new Error(`timed out after ${deadlineMs} ms waiting for ${what}`);
}
