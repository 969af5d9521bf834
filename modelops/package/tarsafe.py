"""Reading an untrusted tar.gz: bounded extension headers and only plain files and directories.

`archive.extract_package` reads packages that may come from a URL through `members`, in both of its
passes (finding the pinned manifest, then extracting). Python's `tarfile` reads a pax extended header
or a GNU long-name/long-link header whole into memory, whatever size the header claims, and follows a
chain of them by recursion; `BoundedTarInfo` refuses a header over MAX_HEADER_BYTES or a chain longer
than MAX_CHAINED_HEADERS before anything is read. `members` then admits only regular files (no sparse
files, links, devices or FIFOs) and directories, each once, with a safe relative path, within the
limits on count, per-file size and total size; it raises ArchiveError otherwise.
"""

from __future__ import annotations

import gzip
import tarfile
import zlib
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import Any, Protocol

from modelops.package.errors import ArchiveError

MAX_HEADER_BYTES = 64 << 10  # a pax record set or a long name: paths are < 4 KiB on every system
MAX_CHAINED_HEADERS = 4  # pax global + pax extended + GNU long name + long link, at most, per member
_EXTENSION_TYPES = frozenset(
    {
        tarfile.XHDTYPE,
        tarfile.XGLTYPE,
        tarfile.SOLARIS_XHDTYPE,
        tarfile.GNUTYPE_LONGNAME,
        tarfile.GNUTYPE_LONGLINK,
    }
)
_FILE_TYPES = frozenset({tarfile.REGTYPE, tarfile.AREGTYPE})
# What reading a damaged archive can raise; callers turn these into ArchiveError.
READ_ERRORS = (tarfile.TarError, EOFError, OSError, gzip.BadGzipFile, zlib.error, RecursionError)


class Limits(Protocol):
    """The bounds `members` checks (archive.ExtractLimits)."""

    @property
    def max_total_bytes(self) -> int: ...
    @property
    def max_file_bytes(self) -> int: ...
    @property
    def max_files(self) -> int: ...


class BoundedTarInfo(tarfile.TarInfo):
    """A TarInfo that refuses oversized or deeply chained extension headers before reading them."""

    def _proc_member(self, tar: Any) -> Any:
        if self.type not in _EXTENSION_TYPES:
            return tarfile.TarInfo._proc_member(self, tar)  # type: ignore[attr-defined]
        if self.size > MAX_HEADER_BYTES:
            kind = (
                "pax" if self.type in {tarfile.XHDTYPE, tarfile.XGLTYPE, tarfile.SOLARIS_XHDTYPE} else "GNU"
            )
            raise ArchiveError(
                f"package has a {kind} extension header of {self.size} bytes (limit {MAX_HEADER_BYTES})"
            )
        depth = getattr(tar, "_modelops_header_depth", 0)
        if depth >= MAX_CHAINED_HEADERS:
            raise ArchiveError(f"package chains more than {MAX_CHAINED_HEADERS} extension headers")
        tar._modelops_header_depth = depth + 1
        try:
            return tarfile.TarInfo._proc_member(self, tar)  # type: ignore[attr-defined]
        finally:
            tar._modelops_header_depth = depth


def open_package(archive: Path | None = None, fileobj: Any = None) -> tarfile.TarFile:
    """Open a (possibly compressed) tar for reading with bounded headers: a file, or a forward-only
    stream (`fileobj`, e.g. a decrypting reader) in tarfile's stream mode."""
    if fileobj is not None:
        return tarfile.open(fileobj=fileobj, mode="r|*", tarinfo=BoundedTarInfo)
    return tarfile.open(archive, mode="r:*", tarinfo=BoundedTarInfo)


def members(tar: tarfile.TarFile, bounds: Limits) -> Iterator[tuple[tarfile.TarInfo, Path]]:
    """Each admitted member with its safe relative path, in archive order."""
    seen: set[Path] = set()
    total = 0
    for count, member in enumerate(tar, start=1):
        if count > bounds.max_files:
            raise ArchiveError(f"package has more than {bounds.max_files} entries")
        relative = safe_name(member.name)
        if member.isdir():
            yield member, relative
            continue
        if member.type not in _FILE_TYPES or member.sparse is not None:
            raise ArchiveError(
                f"package entry {member.name!r} is a link or special file; only files are allowed"
            )
        if relative in seen:
            raise ArchiveError(f"package entry {member.name!r} appears more than once")
        seen.add(relative)
        if member.size > bounds.max_file_bytes:
            raise ArchiveError(f"package entry {member.name!r} exceeds {bounds.max_file_bytes} bytes")
        total += member.size
        if total > bounds.max_total_bytes:
            raise ArchiveError(f"package content exceeds {bounds.max_total_bytes} bytes")
        yield member, relative


def safe_name(name: str) -> Path:
    """The member's path relative to the destination; ArchiveError for absolute or '..' paths."""
    path = PurePosixPath(name)
    if path.is_absolute() or ".." in path.parts or not path.parts or "\\" in name:
        raise ArchiveError(f"package entry {name!r} has an unsafe path (absolute or with '..')")
    parts = [part for part in path.parts if part != "."]
    if not parts:
        raise ArchiveError(f"package entry {name!r} has an empty path")
    return Path(*parts)
