// Node.js backend options on one model and one machine: @modelops/client local mode (onnxruntime-node in
// process) vs remote mode (the client calling modelops-server) vs the Python server under a bare HTTP load
// loop. Same model (bench/encoder_model.py), same text, same concurrency; the model runs on one core in
// each case (`--model-cpu`, the client of the two HTTP cases on `--load-cpu`). Modes are interleaved over
// `--rounds`; the median of each figure and the ratios are printed (and written with --json FILE).
// Run after `make test-node` (it builds clients/node): node bench/bench_node.mjs [--duration 5] [--rounds 3]
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const PYTHON = process.env.MODELOPS_PYTHON ?? path.join(ROOT, '.venv', 'bin', 'python');
const CLIENT = pathToFileURL(path.join(ROOT, 'clients', 'node', 'dist', 'index.js')).href;
const TYPE = 'bench_encoder';
const MODES = ['local', 'remote', 'python_server'];

const { values: opts, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    duration: { type: 'string', default: '5' },
    rounds: { type: 'string', default: '3' },
    concurrency: { type: 'string', default: '4' },
    layers: { type: 'string', default: '2' },
    hidden: { type: 'string', default: '128' },
    'seq-len': { type: 'string', default: '64' },
    'model-cpu': { type: 'string', default: '0' },
    'load-cpu': { type: 'string', default: '1' },
    json: { type: 'string' },
    // worker-only
    mode: { type: 'string' },
    'models-dir': { type: 'string' },
    url: { type: 'string' },
    text: { type: 'string' },
  },
});

function quantile(sorted, q) {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

/** Worker: `concurrency` loops calling `call` for `duration` s; latencies in ms, throughput in req/s. */
async function measure(call, concurrency, seconds) {
  for (let i = 0; i < 20; i += 1) await call(); // warm-up
  const latencies = [];
  const end = performance.now() + seconds * 1000;
  const started = performance.now();
  const loop = async () => {
    while (performance.now() < end) {
      const t0 = performance.now();
      await call();
      latencies.push(performance.now() - t0);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, loop));
  const elapsed = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  return { rps: latencies.length / elapsed, p50_ms: quantile(latencies, 0.5), p99_ms: quantile(latencies, 0.99), requests: latencies.length };
}

async function worker() {
  const { createModelService } = await import(CLIENT);
  const text = opts.text;
  let call;
  if (opts.mode === 'local') {
    const model = await createModelService({ modelsDir: opts['models-dir'] }).loadModel(TYPE, 'v1.0.0');
    call = () => model.predict(text);
  } else if (opts.mode === 'remote') {
    const model = await createModelService({ mode: 'remote', baseUrl: opts.url }).loadModel(TYPE, 'v1.0.0');
    call = () => model.predict(text);
  } else {
    const body = JSON.stringify({ text });
    const url = `${opts.url}/api/v1/ml-models/${TYPE}/predict`;
    call = async () => {
      const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      await response.arrayBuffer();
    };
  }
  const result = await measure(call, Number(opts.concurrency), Number(opts.duration));
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

async function freePort() {
  return new Promise((resolve) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

async function startServer(modelsDir) {
  const port = await freePort();
  const args = ['-c', opts['model-cpu'], path.join(path.dirname(PYTHON), 'modelops-server'), 'serve', '--models-dir', modelsDir,
    '--model-type', TYPE, '--version', 'v1.0.0', '--host', '127.0.0.1', '--port', String(port), '--threads', '1', '--log-level', 'WARNING'];
  const child = spawn('taskset', args, { stdio: 'ignore' });
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 120_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`modelops-server exited with ${child.exitCode}`);
    const ready = await fetch(`${url}/v2/health/ready`).then((r) => r.ok, () => false);
    if (ready) return { url, child };
    await sleep(200);
  }
  child.kill();
  throw new Error('modelops-server did not become ready within 120 s');
}

function runWorker(mode, cpu, extra) {
  const args = ['-c', cpu, process.execPath, fileURLToPath(import.meta.url), 'worker', '--mode', mode,
    '--concurrency', opts.concurrency, '--duration', opts.duration, ...extra];
  return JSON.parse(execFileSync('taskset', args, { encoding: 'utf8', maxBuffer: 1 << 20 }).trim().split('\n').pop());
}

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

async function main() {
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'bench-node-'));
  try {
    await benchIn(tmp);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

async function benchIn(tmp) {
  const modelsDir = path.join(tmp, 'models');
  const build = `import sys; sys.path.insert(0, 'bench'); from pathlib import Path; from encoder_model import make_encoder_dir; ` +
    `make_encoder_dir(Path(sys.argv[1]), ${Number(opts.layers)}, ${Number(opts.hidden)}, 4, ${Number(opts['seq-len'])})`;
  execFileSync(PYTHON, ['-c', build, modelsDir], { cwd: ROOT, stdio: 'inherit' });
  const words = ['i', 'feel', 'happy', 'today', 'we', 'want', 'to', 'talk', 'about', 'the', 'day'];
  const text = Array.from({ length: Number(opts['seq-len']) - 2 }, (_, i) => words[i % words.length]).join(' ');
  const server = await startServer(modelsDir);
  const rounds = [];
  try {
    for (let round = 0; round < Number(opts.rounds); round += 1) {
      const figures = {
        local: runWorker('local', opts['model-cpu'], ['--models-dir', modelsDir, '--text', text]),
        remote: runWorker('remote', opts['load-cpu'], ['--url', server.url, '--text', text]),
        python_server: runWorker('python_server', opts['load-cpu'], ['--url', server.url, '--text', text]),
        load_average: os.loadavg().map((v) => v.toFixed(2)).join(' '),
      };
      rounds.push(figures);
      console.log(`round ${round + 1}: ${JSON.stringify(figures)}`);
    }
  } finally {
    server.child.kill('SIGTERM');
  }
  const summary = {};
  for (const mode of MODES) {
    summary[mode] = Object.fromEntries(['rps', 'p50_ms', 'p99_ms'].map((key) => [key, +median(rounds.map((r) => r[mode][key])).toFixed(3)]));
  }
  const ratio = (key, a, b) => +median(rounds.map((r) => r[a][key] / r[b][key])).toFixed(2);
  summary.ratios = {
    rps_local_vs_remote: ratio('rps', 'local', 'remote'),
    rps_local_vs_python_server: ratio('rps', 'local', 'python_server'),
    p50_remote_vs_local: ratio('p50_ms', 'remote', 'local'),
    p99_remote_vs_local: ratio('p99_ms', 'remote', 'local'),
    rps_remote_vs_python_server: ratio('rps', 'remote', 'python_server'),
  };
  summary.settings = { concurrency: Number(opts.concurrency), duration_s: Number(opts.duration), rounds: Number(opts.rounds),
    layers: Number(opts.layers), hidden: Number(opts.hidden), seq_len: Number(opts['seq-len']) };
  console.log(JSON.stringify(summary, null, 2));
  if (opts.json) writeFileSync(opts.json, `${JSON.stringify({ summary, rounds }, null, 2)}\n`);
}

if (positionals[0] === 'worker') await worker();
else await main();
