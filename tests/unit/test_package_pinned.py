"""Pinned extraction and bounded tar headers, with hostile archives (hypothesis and fixed cases).

With the pinned digest (sha256 of manifest.json), `extract_package` must check the manifest before it
writes anything, refuse an unlisted member before writing it, and end with exactly the pinned files or
with an error and nothing in the destination. Pax and GNU extension headers are refused above
`tarsafe.MAX_HEADER_BYTES` or chained more than `tarsafe.MAX_CHAINED_HEADERS` deep, before tarfile
reads them (a header claiming a gigabyte is never allocated).
"""

from __future__ import annotations

import gzip
import hashlib
import io
import tarfile
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from modelops.package import archive as archive_mod
from modelops.package.archive import MAX_MANIFEST_BYTES, ExtractLimits, build_package, extract_package
from modelops.package.errors import ArchiveError, ManifestError, PackageError
from modelops.package.manifest import write_manifest
from modelops.package.tarsafe import MAX_CHAINED_HEADERS, MAX_HEADER_BYTES

FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
FILES = {"model.onnx": b"onnx" * 300, "metadata.json": b'{"v": 1}', "vocab/a.txt": b"a\nb\n"}


def _model(root: Path, files: dict[str, bytes] = FILES) -> tuple[Path, str]:
    source = root / "src"
    for name, data in files.items():
        (source / name).parent.mkdir(parents=True, exist_ok=True)
        (source / name).write_bytes(data)
    return source, write_manifest(source)


def _members(source: Path) -> list[tuple[str, bytes]]:
    return [
        (p.relative_to(source).as_posix(), p.read_bytes()) for p in sorted(source.rglob("*")) if p.is_file()
    ]


def _tar(members: list[tuple[str, bytes]], raw_tail: bytes = b"") -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return gzip.compress(buffer.getvalue() + raw_tail, mtime=0)


@contextmanager
def _spy_writes(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """The members extraction starts to write (its _extract_file calls)."""
    started: list[str] = []
    original = archive_mod._extract_file

    def spy(tar: Any, member: tarfile.TarInfo, out: Path, **kwargs: Any) -> None:
        started.append(member.name)
        original(tar, member, out, **kwargs)

    monkeypatch.setattr(archive_mod, "_extract_file", spy)
    yield started


def test_packages_put_the_manifest_first_and_extract_verified(tmp_path: Path) -> None:
    source, digest = _model(tmp_path)
    package = build_package(source, tmp_path / "p.tar.gz")
    with tarfile.open(package) as tar:
        assert tar.getnames()[0] == "manifest.json"
    out = extract_package(package, tmp_path / "out", expected_digest=f"sha256:{digest.upper()}")
    assert {p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()} == {*FILES, "manifest.json"}


def test_a_wrong_pin_is_refused_before_any_member_is_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source, _ = _model(tmp_path)
    members = sorted(_members(source), key=lambda m: m[0] == "manifest.json")  # manifest last
    package = tmp_path / "p.tar.gz"
    package.write_bytes(_tar(members))
    with (
        _spy_writes(monkeypatch) as started,
        pytest.raises(ManifestError, match=r"sha256 mismatch for manifest\.json"),
    ):
        extract_package(package, tmp_path / "out", expected_digest="0" * 64)
    assert started == [], "members were written before the manifest was checked"
    assert not (tmp_path / "out").exists()


def test_an_unlisted_member_is_refused_before_it_is_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source, digest = _model(tmp_path)
    package = tmp_path / "p.tar.gz"
    package.write_bytes(_tar([*_members(source), ("evil.so", b"\x7fELF")]))
    with _spy_writes(monkeypatch) as started, pytest.raises(ManifestError, match=r"unexpected file evil\.so"):
        extract_package(package, tmp_path / "out", expected_digest=digest)
    assert started[-1] == "evil.so" and not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    ("change", "words"),
    [
        (
            lambda m: [(n, d + b"!" if n == "model.onnx" else d) for n, d in m],
            "sha256 mismatch for model.onnx",
        ),
        (lambda m: [(n, d) for n, d in m if n != "vocab/a.txt"], "missing file vocab/a.txt"),
        (lambda m: [("manifest.json", b"{}"), *m], "sha256 mismatch for manifest.json"),
        (lambda m: [*m, ("model.onnx", b"swapped")], "appears more than once"),
        (lambda m: [(n, d) for n, d in m if n != "manifest.json"], "has no manifest.json"),
    ],
    ids=["altered", "missing", "manifest-swapped-first", "duplicate", "no-manifest"],
)
def test_hostile_changes_to_a_pinned_package_are_refused(tmp_path: Path, change: Any, words: str) -> None:
    source, digest = _model(tmp_path)
    package = tmp_path / "p.tar.gz"
    package.write_bytes(_tar(change(_members(source))))
    with pytest.raises(PackageError, match=words):
        extract_package(package, tmp_path / "out", expected_digest=digest)
    assert not (tmp_path / "out").exists()


def _extension_header(kind: bytes, size: int) -> bytes:
    info = tarfile.TarInfo("././@LongLink" if kind in (tarfile.GNUTYPE_LONGNAME,) else "././@PaxHeader")
    info.type = kind
    info.size = size
    return info.tobuf(format=tarfile.GNU_FORMAT)  # base-256 sizes: a header may claim any size


@pytest.mark.parametrize(
    "kind",
    [tarfile.XHDTYPE, tarfile.XGLTYPE, tarfile.GNUTYPE_LONGNAME],
    ids=["pax", "pax-global", "gnu-longname"],
)
def test_a_huge_extension_header_is_refused_without_reading_it(tmp_path: Path, kind: bytes) -> None:
    package = tmp_path / "p.tar.gz"
    package.write_bytes(gzip.compress(_extension_header(kind, 1 << 40) + b"\0" * 4096))  # claims 1 TiB
    with pytest.raises(
        ArchiveError, match=rf"extension header of {1 << 40} bytes \(limit {MAX_HEADER_BYTES}\)"
    ):
        extract_package(package, tmp_path / "out")


def _pax_chain(depth: int) -> bytes:
    record = _pax_record("comment", "abcdefg")
    blocks = b""
    for _ in range(depth):
        blocks += _extension_header(tarfile.XHDTYPE, len(record)) + record.ljust(512, b"\0")
    info = tarfile.TarInfo("model.onnx")
    info.size = 3
    return blocks + info.tobuf(format=tarfile.USTAR_FORMAT) + b"abc".ljust(512, b"\0") + b"\0" * 1024


@FUZZ
@given(st.integers(min_value=0, max_value=3000))
def test_chained_extension_headers_are_bounded(depth: int) -> None:
    with tempfile.TemporaryDirectory(prefix="pinned-") as scratch:
        package = Path(scratch) / "p.tar.gz"
        package.write_bytes(gzip.compress(_pax_chain(depth)))
        if depth <= MAX_CHAINED_HEADERS:
            out = extract_package(package, Path(scratch) / "out")
            assert (out / "model.onnx").read_bytes() == b"abc"
        else:
            with pytest.raises(ArchiveError, match="chains more than"):  # never a RecursionError
                extract_package(package, Path(scratch) / "out")


def _pax_record(key: str, value: str) -> bytes:
    payload = f" {key}={value}\n"
    length = len(payload) + len(str(len(payload)))
    length = len(payload) + len(str(length))
    return f"{length}{payload}".encode()


@FUZZ
@given(st.integers(min_value=0, max_value=4 * MAX_HEADER_BYTES))
def test_pax_header_sizes_are_bounded(size: int) -> None:
    body = _pax_record("comment", "x" * size)
    blob = _extension_header(tarfile.XHDTYPE, len(body)) + body.ljust(-(-len(body) // 512) * 512, b"\0")
    with tempfile.TemporaryDirectory(prefix="pinned-") as scratch:
        package = Path(scratch) / "p.tar.gz"
        package.write_bytes(gzip.compress(blob + _pax_chain(0)))
        if len(body) > MAX_HEADER_BYTES:
            with pytest.raises(ArchiveError, match="pax extension header"):
                extract_package(package, Path(scratch) / "out")
        else:
            out = extract_package(package, Path(scratch) / "out")
            assert (out / "model.onnx").read_bytes() == b"abc"


def test_sparse_members_are_refused(tmp_path: Path) -> None:
    info = tarfile.TarInfo("model.onnx")
    info.type = tarfile.GNUTYPE_SPARSE
    info.size = 0
    package = tmp_path / "p.tar.gz"
    package.write_bytes(gzip.compress(info.tobuf(format=tarfile.GNU_FORMAT) + b"\0" * 1024))
    with pytest.raises(ArchiveError, match="only files are allowed"):
        extract_package(package, tmp_path / "out")


_EDITS = st.lists(
    st.one_of(
        st.tuples(st.just("flip"), st.sampled_from([*FILES, "manifest.json"]), st.integers(0, 50)),
        st.tuples(st.just("drop"), st.sampled_from([*FILES, "manifest.json"]), st.just(0)),
        st.tuples(
            st.just("add"), st.sampled_from(["evil.so", "model.sig", "vocab/b.txt", "model.onnx"]), st.just(0)
        ),
        st.tuples(st.just("move-manifest-last"), st.just(""), st.just(0)),
    ),
    max_size=4,
)


def _edit(members: list[tuple[str, bytes]], edits: list[tuple[str, str, int]]) -> list[tuple[str, bytes]]:
    out = list(members)
    for op, name, at in edits:
        if op == "flip":
            out = [
                (n, (d[:at] + bytes([d[at] ^ 1]) + d[at + 1 :]) if n == name and at < len(d) else d)
                for n, d in out
            ]
        elif op == "drop":
            out = [(n, d) for n, d in out if n != name]
        elif op == "add":
            out.append((name, b"payload"))
        else:
            out.sort(key=lambda m: m[0] == "manifest.json")
    return out


@FUZZ
@given(_EDITS)
def test_a_pinned_extraction_yields_exactly_the_pinned_files_or_nothing(
    edits: list[tuple[str, str, int]],
) -> None:
    with tempfile.TemporaryDirectory(prefix="pinned-") as scratch:
        root = Path(scratch)
        source, digest = _model(root)
        members = _members(source)
        package, dest = root / "p.tar.gz", root / "out"
        package.write_bytes(_tar(_edit(members, edits)))
        try:
            extract_package(package, dest, ExtractLimits(), expected_digest=digest)
        except PackageError:
            assert not dest.exists() or not any(dest.iterdir())
            return
        got = {p.relative_to(dest).as_posix(): p.read_bytes() for p in dest.rglob("*") if p.is_file()}
        expected = dict(members)
        if "model.sig" in got:  # the signature is not in the manifest; the server checks it
            expected["model.sig"] = got["model.sig"]
        assert got == expected
        assert hashlib.sha256(got["manifest.json"]).hexdigest() == digest


def test_a_manifest_over_the_memory_bound_is_refused_unread(tmp_path: Path) -> None:
    manifest = b" " * (MAX_MANIFEST_BYTES + 1)
    package = tmp_path / "p.tar.gz"
    package.write_bytes(_tar([("manifest.json", manifest)]))
    with pytest.raises(ManifestError, match=f"exceeds {MAX_MANIFEST_BYTES} bytes"):
        extract_package(package, tmp_path / "out", expected_digest=hashlib.sha256(manifest).hexdigest())
