"""The content-addressed cache of trained example models under `~/.cache/modelops/models/` (shared code).

`modelops.training.finetune` (the classifiers) and `modelops.training.persona` (the persona model) call
`cached_build`: an entry `<name>-<key>` is built once into a scratch directory beside it, marked complete
and renamed into place, behind a file lock, so concurrent runs (the demo, CI, a developer) train each model
once and never see a half-written directory. `content_hash` is the key recipe: the hash of every part's hash.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Callable
from pathlib import Path

CACHE_ROOT = Path(os.environ.get("MODELOPS_CACHE", Path.home() / ".cache" / "modelops")) / "models"
DONE_MARKER = ".complete"


def content_hash(*parts: bytes) -> str:
    """sha256 over the sha256 of each part (so part boundaries count)."""
    digest = hashlib.sha256()
    for part in parts:
        digest.update(hashlib.sha256(part).digest())
    return digest.hexdigest()


def cached_build(cache_root: Path, entry: str, build: Callable[[Path], None]) -> tuple[Path, bool]:
    """(cache_root/entry, whether it was already there); `build(out)` must create the directory `out`."""
    from filelock import FileLock

    cache_root.mkdir(parents=True, exist_ok=True)
    target = cache_root / entry
    with FileLock(str(target) + ".lock"):
        if (target / DONE_MARKER).is_file():
            return target, True
        with tempfile.TemporaryDirectory(prefix=".training-", dir=cache_root) as scratch:
            staged = Path(scratch) / "model"
            build(staged)
            (staged / DONE_MARKER).write_text("ok\n", encoding="utf-8")
            os.replace(staged, target)
    return target, False
