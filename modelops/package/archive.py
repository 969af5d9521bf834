"""Model packages: a model directory as one reproducible `.tar.gz`, and its safe extraction.

`modelctl package` builds packages; the inference server's `fetch` step (an init container) and
`--version` pointing at a package unpack them. Building twice from the same files gives the same bytes
(sorted entries, zero mtimes and owners, no gzip timestamp). Extraction refuses path traversal, links,
devices and oversized content, because a package may come from a URL.
"""

from __future__ import annotations

import gzip
import io
import shutil
import tarfile
import tempfile
import urllib.request
import zlib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO

from modelops.package.errors import ArchiveError
from modelops.package.manifest import MANIFEST_NAME

_CHUNK = 1 << 20


@dataclass(frozen=True)
class ExtractLimits:
    """Upper bounds for what one package may contain; the defaults fit small and medium models."""

    max_total_bytes: int = 4 << 30
    max_file_bytes: int = 2 << 30
    max_files: int = 10_000
    max_download_bytes: int = 4 << 30
    download_timeout_s: float = 60.0


def build_package(model_dir: Path | str, out_path: Path | str) -> Path:
    """Write `out_path` (.tar.gz) with every file of `model_dir` at the archive root; return its path."""
    root = Path(model_dir)
    if not (root / MANIFEST_NAME).is_file():
        raise ArchiveError(f"{root} has no {MANIFEST_NAME}; write the manifest before packaging")
    out = Path(out_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for path in sorted(p for p in root.rglob("*") if p.is_file() and not p.is_symlink()):
            _add_file(tar, path, path.relative_to(root).as_posix())
    with out.open("wb") as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as gz:
        gz.write(buffer.getvalue())
    return out


def _add_file(tar: tarfile.TarFile, path: Path, name: str) -> None:
    info = tarfile.TarInfo(name)
    info.size = path.stat().st_size
    info.mtime = 0
    info.mode = 0o644
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    with path.open("rb") as handle:
        tar.addfile(info, handle)


def extract_package(src: str | Path, dest: Path | str, limits: ExtractLimits | None = None) -> Path:
    """Unpack a package (local path or http(s) URL) into `dest` and return `dest`.

    `dest` must not exist or be an empty directory (an emptyDir volume). Nothing is left in `dest` when
    extraction fails.
    """
    bounds = limits or ExtractLimits()
    target = Path(dest)
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise ArchiveError(f"destination {target} exists and is not an empty directory")
    with tempfile.TemporaryDirectory(prefix="modelops-fetch-") as scratch:
        archive = _local_copy(str(src), Path(scratch), bounds)
        staging = Path(scratch) / "staging"
        staging.mkdir()
        _extract_into(archive, staging, bounds)
        _move_contents(staging, target)
    return target


def _local_copy(src: str, scratch: Path, bounds: ExtractLimits) -> Path:
    if src.startswith(("http://", "https://")):
        return _download(src, scratch / "package.tar.gz", bounds)
    path = Path(src.removeprefix("file://"))
    if not path.is_file():
        raise ArchiveError(f"package {src} does not exist")
    return path


def _download(url: str, out: Path, bounds: ExtractLimits) -> Path:
    try:
        with urllib.request.urlopen(url, timeout=bounds.download_timeout_s) as response, out.open("wb") as fh:
            _copy_limited(response, fh, bounds.max_download_bytes, url)
    except OSError as error:
        raise ArchiveError(f"cannot download package {url}: {error}") from error
    return out


def _copy_limited(source: IO[bytes], sink: IO[bytes], limit: int, what: str) -> int:
    copied = 0
    for chunk in iter(lambda: source.read(_CHUNK), b""):
        copied += len(chunk)
        if copied > limit:
            raise ArchiveError(f"{what} is larger than the limit of {limit} bytes")
        sink.write(chunk)
    return copied


def _extract_into(archive: Path, staging: Path, bounds: ExtractLimits) -> None:
    total = 0
    try:
        with tarfile.open(archive, mode="r:*") as tar:
            for count, member in enumerate(tar, start=1):
                if count > bounds.max_files:
                    raise ArchiveError(f"package has more than {bounds.max_files} entries")
                total += _extract_member(tar, member, staging, bounds)
                if total > bounds.max_total_bytes:
                    raise ArchiveError(f"package content exceeds {bounds.max_total_bytes} bytes")
            _drain(tar)
    except (tarfile.TarError, EOFError, OSError, gzip.BadGzipFile, zlib.error) as error:
        raise ArchiveError(f"package {archive.name} is not a readable tar.gz: {error}") from error


def _drain(tar: tarfile.TarFile) -> None:
    # tarfile stops at the first header it cannot read after the first member, as if the archive had
    # ended; reading the compressed stream to its end makes gzip check its CRC and length, so a
    # corrupted package fails instead of yielding only some of its files.
    stream = tar.fileobj
    if stream is not None:
        while stream.read(_CHUNK):
            pass


def _extract_member(
    tar: tarfile.TarFile, member: tarfile.TarInfo, staging: Path, bounds: ExtractLimits
) -> int:
    relative = _safe_name(member.name)
    if member.isdir():
        (staging / relative).mkdir(parents=True, exist_ok=True)
        return 0
    if not member.isfile():
        raise ArchiveError(f"package entry {member.name!r} is a link or special file; only files are allowed")
    if member.size > bounds.max_file_bytes:
        raise ArchiveError(f"package entry {member.name!r} exceeds {bounds.max_file_bytes} bytes")
    out = staging / relative
    out.parent.mkdir(parents=True, exist_ok=True)
    source = tar.extractfile(member)
    if source is None:
        raise ArchiveError(f"package entry {member.name!r} cannot be read")
    with source, out.open("wb") as sink:
        return _copy_limited(source, sink, bounds.max_file_bytes, f"package entry {member.name!r}")


def _safe_name(name: str) -> Path:
    path = PurePosixPath(name)
    if path.is_absolute() or ".." in path.parts or not path.parts or "\\" in name:
        raise ArchiveError(f"package entry {name!r} has an unsafe path (absolute or with '..')")
    parts = [part for part in path.parts if part != "."]
    if not parts:
        raise ArchiveError(f"package entry {name!r} has an empty path")
    return Path(*parts)


def _move_contents(staging: Path, target: Path) -> None:
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(str(staging), str(target))
        return
    for child in staging.iterdir():
        shutil.move(str(child), str(target / child.name))
