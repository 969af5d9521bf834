"""Property tests of the package extractor with hostile archives (hypothesis).

A package may come from a URL, so `extract_package` must, for ANY input: raise only `ArchiveError`,
write nothing outside the destination, leave the destination empty when it fails, never create links,
and respect the size limits. Safe trees must round-trip byte for byte. Example counts are bounded so the
unit tier stays fast.
"""

from __future__ import annotations

import io
import random
import tarfile
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from modelops.package.archive import ExtractLimits, build_package, extract_package
from modelops.package.errors import ArchiveError

FUZZ = settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
LIMITS = ExtractLimits(max_total_bytes=4096, max_file_bytes=2048, max_files=12)

_SEGMENTS = st.sampled_from(["a", "b", "model.onnx", "..", ".", "", "c\\d", "etc", "passwd"])
_NAMES = st.builds(
    lambda absolute, parts: ("/" if absolute else "") + "/".join(parts),
    st.booleans(),
    st.lists(_SEGMENTS, min_size=1, max_size=4),
)
_KINDS = st.sampled_from(
    [tarfile.REGTYPE, tarfile.DIRTYPE, tarfile.SYMTYPE, tarfile.LNKTYPE, tarfile.FIFOTYPE]
)
_MEMBERS = st.lists(
    st.tuples(_NAMES, _KINDS, st.binary(max_size=3000), st.sampled_from(["/etc/passwd", "../x", "a"])),
    max_size=15,
)


def _archive(members: list[tuple[str, bytes, bytes, str]]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz", format=tarfile.PAX_FORMAT) as tar:
        for name, kind, data, link in members:
            info = tarfile.TarInfo(name or "x")
            info.type = kind
            if kind in (tarfile.SYMTYPE, tarfile.LNKTYPE):
                info.linkname = link
            if kind == tarfile.REGTYPE:
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
            else:
                tar.addfile(info)
    return buffer.getvalue()


@contextmanager
def _extracted(
    blob: bytes, limits: ExtractLimits = LIMITS
) -> Iterator[tuple[Path, Path, ArchiveError | None]]:
    """Extract `blob` in a scratch dir of its own, removed afterwards (hypothesis runs it often)."""
    with tempfile.TemporaryDirectory(prefix="fuzz-") as scratch:
        root = Path(scratch)
        (root / "outside").mkdir()
        package = root / "p.tar.gz"
        package.write_bytes(blob)
        dest = root / "dest"
        try:
            extract_package(package, dest, limits)
        except ArchiveError as error:
            yield root, dest, error
            return
        yield root, dest, None


def _assert_contained(root: Path, dest: Path, error: ArchiveError | None) -> None:
    assert sorted(p.name for p in root.iterdir()) in (
        ["dest", "outside", "p.tar.gz"],
        ["outside", "p.tar.gz"],
    )
    assert not any((root / "outside").iterdir()), "something was written outside the destination"
    if error is not None:
        assert not dest.exists() or not any(dest.iterdir()), f"{error} but files were left in {dest}"
        return
    total = 0
    for path in dest.rglob("*"):
        assert not path.is_symlink(), path
        assert path.resolve().is_relative_to(dest.resolve()), path
        if path.is_file():
            total += path.stat().st_size
            assert path.stat().st_size <= LIMITS.max_file_bytes
    assert total <= LIMITS.max_total_bytes


@FUZZ
@given(_MEMBERS)
def test_hostile_archives_extract_only_inside_the_destination(
    members: list[tuple[str, bytes, bytes, str]],
) -> None:
    with _extracted(_archive(members)) as extracted:
        _assert_contained(*extracted)


@FUZZ
@given(st.binary(max_size=2048), st.integers(min_value=0, max_value=4096))
def test_garbage_and_truncated_packages_fail_only_with_archive_error(noise: bytes, cut: int) -> None:
    valid = _archive([("model.onnx", tarfile.REGTYPE, b"x" * 1000, "a")])
    for blob in (noise, valid[:cut], valid[: len(valid) // 2] + noise):
        with _extracted(blob) as extracted:
            _assert_contained(*extracted)


_SAFE_FILES = st.dictionaries(
    st.sampled_from(["model.onnx", "metadata.json", "manifest.json", "vocab/a.txt", "vocab/b.txt", "x"]),
    st.binary(max_size=500),
    max_size=5,
)


@FUZZ
@given(_SAFE_FILES)
def test_safe_trees_round_trip_byte_for_byte(extra: dict[str, bytes]) -> None:
    files = {"manifest.json": b"{}", **extra}  # build_package wants a manifest
    with tempfile.TemporaryDirectory() as scratch:
        source, out = Path(scratch) / "src", Path(scratch) / "out"
        for name, data in files.items():
            (source / name).parent.mkdir(parents=True, exist_ok=True)
            (source / name).write_bytes(data)
        source.mkdir(exist_ok=True)
        package = build_package(source, Path(scratch) / "p.tar.gz")
        extract_package(package, out, LIMITS)
        got = {str(p.relative_to(out)): p.read_bytes() for p in out.rglob("*") if p.is_file()}
        assert got == files


_NOISE = random.Random(0).randbytes(5000)
_BIG_VALID = _archive([(f"f{i}", tarfile.REGTYPE, _NOISE + b"a" * 20000, "a") for i in range(3)])


@FUZZ
@given(st.lists(st.tuples(st.integers(min_value=10, max_value=len(_BIG_VALID) - 1), st.integers(0, 255)),
                min_size=1, max_size=6))  # fmt: skip
def test_corrupted_compressed_streams_fail_only_with_archive_error(flips: list[tuple[int, int]]) -> None:
    blob = bytearray(_BIG_VALID)
    for offset, value in flips:
        blob[offset] = value
    with _extracted(bytes(blob), ExtractLimits()) as (root, dest, error):
        assert not any((root / "outside").iterdir())
        assert error is not None or sorted(p.name for p in dest.iterdir()) == ["f0", "f1", "f2"]
