"""A node-local cache of verified model directories for the fetch step, keyed by artifact digest.

`modelops-server fetch --cache-dir DIR --expected-digest D` looks for `DIR/<D>` first: an entry is
re-verified against the digest before reuse (a damaged entry is removed and fetched again), so a
rollback or a second replica on the same node starts without downloading. Only verified directories are
stored, through a staging directory and a rename, so a failed fetch leaves nothing in the cache; entries
are evicted least-recently-used first when the cache grows past its size limit. Called by `cli.fetch`.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from pathlib import Path

from modelops.package.errors import ManifestError, PackageError
from modelops.package.manifest import normalize_digest, verify_manifest


def _size(directory: Path) -> int:
    return sum(p.stat().st_size for p in directory.rglob("*") if p.is_file())


class DigestCache:
    """Verified model directories under `root/<sha256>`, at most `max_bytes` in total (LRU)."""

    def __init__(self, root: Path, max_bytes: int) -> None:
        self.root, self.max_bytes = root, max_bytes

    def entry(self, digest: str) -> Path:
        name = normalize_digest(digest)
        if not re.fullmatch(r"[0-9a-f]{64}", name):
            raise ManifestError(f"cache key {digest!r} is not a sha256 digest")
        return self.root / name

    def restore(self, digest: str, dest: Path) -> bool:
        """Copy a verified entry into `dest` (absent or empty) and mark it used; False on a miss."""
        entry = self.entry(digest)
        if not entry.is_dir():
            return False
        try:
            verify_manifest(entry, digest)
        except PackageError:
            shutil.rmtree(entry, ignore_errors=True)  # damaged on the node: fetch it again
            return False
        dest.mkdir(parents=True, exist_ok=True)
        shutil.copytree(entry, dest, dirs_exist_ok=True)
        os.utime(entry)  # most recently used
        return True

    def store(self, directory: Path, digest: str) -> None:
        """Keep a copy of a verified `directory`, then evict the least recently used entries."""
        entry = self.entry(digest)
        if entry.exists():
            return
        self.root.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".store-", dir=self.root))
        try:
            shutil.copytree(directory, staging, dirs_exist_ok=True)
            staging.rename(entry)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        self.evict(keep=entry)

    def evict(self, keep: Path | None = None) -> list[str]:
        """Remove least-recently-used entries until the total fits; never `keep`. Returns removed digests."""
        entries = sorted(
            (p for p in self.root.iterdir() if p.is_dir() and not p.name.startswith(".")),
            key=lambda p: p.stat().st_mtime,
        )
        total, removed = sum(_size(p) for p in entries), []
        for entry in entries:
            if total <= self.max_bytes:
                break
            if entry == keep:
                continue
            total -= _size(entry)
            shutil.rmtree(entry, ignore_errors=True)
            removed.append(entry.name)
        return removed
