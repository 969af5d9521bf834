"""The package layout: `operator/` never shadows the stdlib, and import contracts are enforced."""

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent


def test_stdlib_operator_is_not_shadowed() -> None:
    out = subprocess.run(
        [sys.executable, "-c", "import operator; print(operator.add)"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.strip() == "<built-in function add>"


def test_components_import_under_distinct_names() -> None:
    code = "import modelops, modelops_operator, modelops_server; print('ok')"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"


def _copy_tree(dest: Path) -> None:
    for part in ("pyproject.toml", "modelops", "operator", "server"):
        src = ROOT / part
        if src.is_dir():
            shutil.copytree(src, dest / part, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(src, dest / part)


def _lint_imports(tree: Path) -> subprocess.CompletedProcess[str]:
    env = {"PYTHONPATH": f"{tree}:{tree / 'operator'}:{tree / 'server'}", "PATH": str(VENV_BIN)}
    return subprocess.run(
        [str(VENV_BIN / "lint-imports"), "--no-cache"], cwd=tree, capture_output=True, text=True, env=env
    )


def test_import_contracts_hold_on_the_real_tree(tmp_path: Path) -> None:
    _copy_tree(tmp_path)
    result = _lint_imports(tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr


def test_bad_import_direction_breaks_the_contract(tmp_path: Path) -> None:
    _copy_tree(tmp_path)
    bad = tmp_path / "server" / "modelops_server" / "bad_direction.py"
    bad.write_text('"""Deliberately wrong."""\n\nimport modelops_operator  # noqa: F401\n')
    result = _lint_imports(tmp_path)
    assert result.returncode != 0
    assert "The server never imports the operator BROKEN" in result.stdout
