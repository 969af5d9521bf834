// Runs the Python side (tests/support/node_fixtures.py) to write build/fixtures/: model directories, a
// signed model and vectors.json with the Python server's answers. Called by `npm test` (pretest).
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '..', '..', '..');
const python = process.env.MODELOPS_PYTHON ?? path.join(root, '.venv', 'bin', 'python');
const out = path.resolve(here, '..', 'build', 'fixtures');
execFileSync(python, ['-m', 'support.node_fixtures', out], {
  cwd: root,
  env: { ...process.env, PYTHONPATH: path.join(root, 'tests') },
  stdio: 'inherit',
});
