"""A private copy of the model directory, so that the bytes the server verifies are the bytes it loads.

Without it, a file could be swapped on the node (hostPath) or on the volume between the digest check
and ONNX Runtime's own read (a TOCTOU window). `model.load_verified_model` calls `private_copy` first
and then verifies, checks and loads only the copy, which lives in the server's own work directory (an
emptyDir that nobody else writes) and is deleted once ONNX Runtime and the tokenizer hold the model in
memory. Each file is opened once without following links and copied from that one descriptor; links
are refused. A package is already unpacked into the work directory and is used as it is.
"""

from __future__ import annotations

import os
import shutil
import stat
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from modelops_server.errors import VerificationError

_CHUNK = 1 << 20


@contextmanager
def private_copy(directory: Path, work_dir: Path) -> Iterator[Path]:
    """A fresh copy of `directory` under `work_dir` (mode 0700) for the block, then deleted; `directory`
    itself when it is already inside `work_dir`."""
    if directory.resolve().is_relative_to(work_dir.resolve()):
        yield directory
        return
    work_dir.mkdir(parents=True, exist_ok=True)
    target = Path(tempfile.mkdtemp(prefix="verified-", dir=work_dir))
    try:
        _copy_tree(directory, target)
        yield target
    finally:
        shutil.rmtree(target, ignore_errors=True)


def _copy_tree(source: Path, target: Path) -> None:
    for entry in sorted(os.scandir(source), key=lambda e: e.name):
        relative = Path(entry.path).relative_to(source)
        if entry.is_symlink():
            raise VerificationError(f"{relative} is a symbolic link; model files must be regular files")
        if entry.is_dir(follow_symlinks=False):
            (target / entry.name).mkdir(mode=0o700)
            _copy_tree(Path(entry.path), target / entry.name)
        else:
            _copy_file(Path(entry.path), target / entry.name)


def _copy_file(source: Path, target: Path) -> None:
    fd = os.open(source, os.O_RDONLY | os.O_NOFOLLOW)
    with os.fdopen(fd, "rb") as reader:
        if not stat.S_ISREG(os.fstat(reader.fileno()).st_mode):
            raise VerificationError(f"{source.name} is not a regular file")
        with target.open("xb") as writer:
            shutil.copyfileobj(reader, writer, _CHUNK)
