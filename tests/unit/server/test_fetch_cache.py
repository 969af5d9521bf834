"""The fetch step's node cache: keyed by digest only, verified before reuse, evicted by size (LRU)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from modelops.package.errors import ManifestError
from modelops.package.manifest import write_manifest
from modelops_server.fetch_cache import DigestCache


def _model(root: Path, name: str, size: int) -> tuple[Path, str]:
    directory = root / name
    directory.mkdir(parents=True)
    (directory / "model.onnx").write_bytes(os.urandom(size))
    return directory, write_manifest(directory)


def test_store_then_restore_marks_use_and_evicts_least_recently_used(tmp_path: Path) -> None:
    cache = DigestCache(tmp_path / "cache", max_bytes=2500)
    models = {name: _model(tmp_path, name, 1000) for name in ("a", "b", "c")}
    cache.store(*models["a"])
    cache.store(*models["b"])
    old = os.stat(cache.entry(models["b"][1])).st_mtime - 100
    os.utime(cache.entry(models["b"][1]), (old, old))  # b used long ago
    assert cache.restore(models["a"][1], tmp_path / "out")  # a used now
    cache.store(*models["c"])  # over 2500 bytes: b goes
    kept = sorted(p.name for p in (tmp_path / "cache").iterdir())
    assert kept == sorted([models["a"][1], models["c"][1]])
    assert (tmp_path / "out" / "model.onnx").read_bytes() == (models["a"][0] / "model.onnx").read_bytes()


def test_damaged_entry_is_a_miss_and_removed(tmp_path: Path) -> None:
    cache = DigestCache(tmp_path / "cache", max_bytes=1 << 20)
    directory, digest = _model(tmp_path, "a", 100)
    cache.store(directory, digest)
    (cache.entry(digest) / "model.onnx").write_bytes(b"x")
    assert not cache.restore(digest, tmp_path / "out")
    assert not cache.entry(digest).exists() and not (tmp_path / "out").exists()


def test_keys_must_be_digests(tmp_path: Path) -> None:
    with pytest.raises(ManifestError, match="not a sha256 digest"):
        DigestCache(tmp_path, 1).entry("../../etc")
