"""Writing generated files only when their content changes.

kube-proxy (and containerd's CNI loader) watch their config files and react to any write, so an
idempotent `up` must leave unchanged files untouched. Used by every module that generates a file.
"""

from __future__ import annotations

from pathlib import Path


def write_if_changed(path: Path, content: str, mode: int | None = None) -> bool:
    """Write `content` to `path` unless it already holds exactly that; True when written."""
    if path.exists() and path.read_text() == content:
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(content)
    if mode is not None:
        path.chmod(mode)
    return True
