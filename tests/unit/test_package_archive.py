"""Packages: reproducible bytes, round trip, and extraction that refuses anything unsafe."""

from __future__ import annotations

import hashlib
import http.server
import io
import tarfile
import threading
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import pytest

from modelops.package import ArchiveError, verify_manifest
from modelops.package.archive import ExtractLimits, build_package, extract_package
from support.models import make_model_dir


@pytest.fixture
def model_dir(tmp_path: Path) -> Path:
    return make_model_dir(tmp_path / "models")


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_packages_are_byte_for_byte_reproducible(model_dir: Path, tmp_path: Path) -> None:
    first = build_package(model_dir, tmp_path / "a.tar.gz")
    (model_dir / "model.onnx").touch()  # a new mtime must not change the package
    second = build_package(model_dir, tmp_path / "b.tar.gz")
    assert _sha(first) == _sha(second)
    with tarfile.open(first) as tar:
        members = tar.getmembers()
    assert [m.name for m in members] == sorted(m.name for m in members)
    assert {(m.mtime, m.uid, m.gid, m.uname) for m in members} == {(0, 0, 0, "")}


def test_round_trip_into_a_new_and_into_an_empty_directory(model_dir: Path, tmp_path: Path) -> None:
    package = build_package(model_dir, tmp_path / "p.tar.gz")
    verify_manifest(extract_package(package, tmp_path / "new" / "v1.0.0"))
    (tmp_path / "empty").mkdir()
    verify_manifest(extract_package(str(package), tmp_path / "empty"))


def test_refuses_a_non_empty_destination(model_dir: Path, tmp_path: Path) -> None:
    package = build_package(model_dir, tmp_path / "p.tar.gz")
    with pytest.raises(ArchiveError, match=r"is not an empty directory"):
        extract_package(package, model_dir)


def _evil_package(path: Path, add: object) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        add(tar)  # type: ignore[operator]
    return path


def _file(tar: tarfile.TarFile, name: str, data: bytes = b"x") -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    tar.addfile(info, io.BytesIO(data))


def _link(tar: tarfile.TarFile, kind: bytes, name: str, target: str) -> None:
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, target
    tar.addfile(info)


@pytest.mark.parametrize(
    ("add", "message"),
    [
        (lambda tar: _file(tar, "../escape.txt"), "unsafe path"),
        (lambda tar: _file(tar, "/etc/evil"), "unsafe path"),
        (lambda tar: _file(tar, "a/../../escape"), "unsafe path"),
        (lambda tar: _link(tar, tarfile.SYMTYPE, "model.onnx", "/etc/passwd"), "link or special file"),
        (lambda tar: _link(tar, tarfile.LNKTYPE, "model.onnx", "other"), "link or special file"),
        (lambda tar: _link(tar, tarfile.CHRTYPE, "dev", ""), "link or special file"),
    ],
)
def test_unsafe_entries_are_refused_and_nothing_is_left(tmp_path: Path, add: object, message: str) -> None:
    package = _evil_package(tmp_path / "evil.tar.gz", add)
    with pytest.raises(ArchiveError, match=message):
        extract_package(package, tmp_path / "out")
    assert not (tmp_path / "out").exists()
    assert not (tmp_path / "escape.txt").exists()


def test_size_and_count_limits(tmp_path: Path) -> None:
    package = _evil_package(tmp_path / "big.tar.gz", lambda tar: _file(tar, "big", b"0" * 5000))
    with pytest.raises(ArchiveError, match=r"exceeds 1000 bytes"):
        extract_package(package, tmp_path / "a", ExtractLimits(max_file_bytes=1000))
    many = _evil_package(tmp_path / "many.tar.gz", lambda tar: [_file(tar, f"f{i}") for i in range(5)])
    with pytest.raises(ArchiveError, match=r"more than 3 entries"):
        extract_package(many, tmp_path / "b", ExtractLimits(max_files=3))


def test_not_a_tarball(tmp_path: Path) -> None:
    bogus = tmp_path / "bogus.tar.gz"
    bogus.write_bytes(b"this is not gzip")
    with pytest.raises(ArchiveError, match=r"not a readable tar.gz"):
        extract_package(bogus, tmp_path / "out")
    with pytest.raises(ArchiveError, match=r"does not exist"):
        extract_package(tmp_path / "absent.tar.gz", tmp_path / "out")


@pytest.fixture
def http_root(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    handler = partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", tmp_path
    server.shutdown()
    thread.join()


def test_extracts_from_an_http_url(model_dir: Path, http_root: tuple[str, Path]) -> None:
    url, root = http_root
    build_package(model_dir, root / "p.tar.gz")
    verify_manifest(extract_package(f"{url}/p.tar.gz", root / "out"))
    with pytest.raises(ArchiveError, match=r"cannot download package"):
        extract_package(f"{url}/missing.tar.gz", root / "out2")
