"""Cache keys for test fixtures that are slow to build (an exported tiny Llama, a deployed tiny BERT).

`support.persona` and `support.tiny_bert` build their models once into `~/.cache/modelops/models/` with
`modelops.training.cache.cached_build`; the key is the hash of the code that builds them and of the
libraries' versions, so a change to either builds the fixture again.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from importlib.metadata import version as package_version
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def code_cache_key(sources: Iterable[str], packages: Iterable[str], salt: str = "") -> str:
    """sha256 over `salt`, each source file (repo-relative) and each package's version; 16 hex digits."""
    digest = hashlib.sha256(f"{salt}\0".encode() if salt else b"")
    for name in sources:
        digest.update(name.encode() + b"\0" + hashlib.sha256((REPO / name).read_bytes()).digest())
    for name in packages:
        digest.update(f"{name}=={package_version(name)}\0".encode())
    return digest.hexdigest()[:16]
