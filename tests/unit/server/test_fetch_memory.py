"""The fetch-model init container's limits agree with what `modelops-server fetch` really uses.

Memory: extraction streams (1 MiB chunks) and holds only the pinned manifest in memory (bounded by
`archive.MAX_MANIFEST_BYTES`) and tar headers (bounded by `tarsafe.MAX_HEADER_BYTES`), so the peak RSS
of a real `fetch` subprocess, on a large package and on a hostile one with the biggest manifest allowed,
must stay well inside the init container's memory limit (`storage.FETCH_RESOURCES`). Disk: the emptyDir
holds the downloaded archive and its unpacked files at once, so its `sizeLimit` is the download limit
plus the content limit (`tests/unit/operator/test_builders.py` checks the sum).
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

from modelops.package.archive import MAX_MANIFEST_BYTES, ExtractLimits, build_package
from modelops.package.manifest import write_manifest
from modelops_operator.storage import FETCH_RESOURCES, PACKAGE_SIZE_LIMIT

MIB = 1 << 20


def _limit_bytes(quantity: str) -> int:
    assert quantity.endswith("Mi"), quantity
    return int(quantity.removesuffix("Mi")) * MIB


# The fetch command as the init container runs it, reporting its own peak RSS (VmHWM of its memory map)
# at exit: a child's ru_maxrss would include the test process it was forked from.
_MEASURED = """
import atexit, sys
from modelops_server.cli import main
def report():
    hwm = next(l for l in open("/proc/self/status") if l.startswith("VmHWM:"))
    print("PEAK_KB", hwm.split()[1], file=sys.stderr)
atexit.register(report)
sys.argv = ["modelops-server", *sys.argv[1:]]
main()
"""


def _peak_rss_of_fetch(package: Path, dest: Path, digest: str, *extra: str) -> tuple[int, int, str]:
    """(exit code, peak RSS in bytes, stderr) of `modelops-server fetch` as the init container runs it."""
    command = [sys.executable, "-c", _MEASURED, "fetch", str(package), str(dest), "--expected-digest", digest,
               *extra]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    peak_kb = [line.split()[1] for line in done.stderr.splitlines() if line.startswith("PEAK_KB")]
    assert peak_kb, done.stderr
    return done.returncode, int(peak_kb[-1]) * 1024, done.stderr


def test_a_large_pinned_package_fetches_far_below_the_memory_limit(tmp_path: Path) -> None:
    source = tmp_path / "src"
    source.mkdir()
    (source / "model.onnx").write_bytes(os.urandom(48 * MIB))
    (source / "metadata.json").write_text("{}")
    digest = write_manifest(source)
    package = build_package(source, tmp_path / "p.tar.gz")
    code, peak, stderr = _peak_rss_of_fetch(package, tmp_path / "out", digest)
    limit = _limit_bytes(FETCH_RESOURCES["limits"]["memory"])
    print(
        f"\nfetch of a {package.stat().st_size / MIB:.0f} MiB pinned package: peak RSS {peak / MIB:.0f} MiB"
    )
    assert code == 0, stderr
    assert peak < limit // 2, f"peak RSS {peak / MIB:.0f} MiB vs limit {limit / MIB:.0f} MiB"


def test_a_large_encrypted_package_decrypts_as_a_stream(tmp_path: Path) -> None:
    from modelops.package.encryption import encode_key, generate_key

    source = tmp_path / "src"
    source.mkdir()
    (source / "model.onnx").write_bytes(os.urandom(48 * MIB))
    (source / "metadata.json").write_text("{}")
    digest = write_manifest(source)
    key, key_file = generate_key(), tmp_path / "model.key"
    key_file.write_text(encode_key(key))
    package = build_package(source, tmp_path / "p.tar.gz.enc", encryption_key=key)
    code, peak, stderr = _peak_rss_of_fetch(
        package, tmp_path / "out", digest, "--decryption-key-file", str(key_file)
    )
    limit = _limit_bytes(FETCH_RESOURCES["limits"]["memory"])
    size = f"{package.stat().st_size / MIB:.0f} MiB"
    print(f"\nfetch of a {size} encrypted package: peak RSS {peak / MIB:.0f} MiB")
    assert code == 0, stderr
    assert (tmp_path / "out" / "model.onnx").read_bytes() == (source / "model.onnx").read_bytes()
    assert peak < limit // 2, f"peak RSS {peak / MIB:.0f} MiB vs limit {limit / MIB:.0f} MiB"


def test_the_biggest_manifest_allowed_stays_far_below_the_memory_limit(tmp_path: Path) -> None:
    source = tmp_path / "src"
    source.mkdir()
    entry = "d/" + "x" * 200
    per_entry = len(json.dumps({f"{entry}00000": "0" * 64}))  # the braces stand for the ", " between entries
    index = (MAX_MANIFEST_BYTES - 4096) // per_entry
    files = {f"{entry}{i:05d}": "0" * 64 for i in range(index)}
    manifest = json.dumps({"schema": "modelops.io/manifest/v1", "files": files}).encode()
    assert MAX_MANIFEST_BYTES * 0.99 < len(manifest) <= MAX_MANIFEST_BYTES
    (source / "manifest.json").write_bytes(manifest)
    package = build_package(source, tmp_path / "p.tar.gz")
    code, peak, stderr = _peak_rss_of_fetch(package, tmp_path / "out", hashlib.sha256(manifest).hexdigest())
    limit = _limit_bytes(FETCH_RESOURCES["limits"]["memory"])
    size = f"{len(manifest) / MIB:.1f} MiB manifest ({index} entries)"
    print(f"\nfetch with a {size}: peak RSS {peak / MIB:.0f} MiB")
    assert code == 1 and "missing file" in stderr, stderr  # refused, and within the memory limit
    assert peak < limit // 2, f"peak RSS {peak / MIB:.0f} MiB vs limit {limit / MIB:.0f} MiB"


def test_the_volume_holds_a_full_download_and_its_content() -> None:
    limits = ExtractLimits()
    assert _limit_bytes(PACKAGE_SIZE_LIMIT) == limits.max_download_bytes + limits.max_total_bytes
