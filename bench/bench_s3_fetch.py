"""Download throughput of `modelops-server fetch s3://…` vs a raw client on the same object.

Starts versitygw (the tests' S3-compatible server, built by `hack/localkube build`) on loopback, uploads
one model directory whose model.onnx is `--size-mb` random bytes, and in `--rounds` interleaved rounds
measures:

- raw: boto3 `download_file` of model.onnx with boto3's default transfer settings (what `aws s3 cp`
  does: 8 MiB parts, 10 threads), to a file;
- fetch: `fetch_s3` of the whole model directory (listing, size checks, parts of 8 MiB, 8 threads,
  staging and rename), then `verify_manifest` against the pinned digest, as the init container runs.

With obstore installed (`pip install obstore`; not a dependency), each round also times obstore's
streaming GET of model.onnx. Prints MB/s of each round and the median ratios fetch/raw and
fetch+verify/raw (the sha256 of every file).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / "tests"), str(REPO / "hack")]

from modelops.objectstore.transfer import fetch_s3  # noqa: E402
from modelops.package.manifest import manifest_digest, verify_manifest, write_manifest  # noqa: E402
from support.s3server import running_s3_server  # noqa: E402


def _model(root: Path, size_mb: int) -> Path:
    model = root / "model"
    model.mkdir()
    with (model / "model.onnx").open("wb") as out:
        for _ in range(size_mb):
            out.write(os.urandom(1 << 20))
    (model / "metadata.json").write_text('{"bench": true}\n')
    write_manifest(model)
    return model


def _obstore_get(s3: object, out: Path) -> float | None:
    """obstore's streaming GET of the same object to a file, when obstore is installed (it is optional)."""
    try:
        import obstore
        from obstore.store import S3Store
    except ImportError:
        return None
    env = s3.env()  # type: ignore[attr-defined]
    store = S3Store(
        "bench", endpoint=env["AWS_ENDPOINT_URL"], access_key_id=env["AWS_ACCESS_KEY_ID"],
        secret_access_key=env["AWS_SECRET_ACCESS_KEY"], region=env["AWS_REGION"],
        client_options={"allow_http": True},
    )  # fmt: skip
    started = time.perf_counter()
    with out.open("wb") as sink:
        for chunk in obstore.get(store, "model/model.onnx").stream(min_chunk_size=8 << 20):
            sink.write(chunk)
    elapsed = time.perf_counter() - started
    out.unlink()
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--size-mb", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with (
        tempfile.TemporaryDirectory(prefix="bench-s3-") as scratch,
        running_s3_server(Path(scratch) / "s3") as s3,
    ):
        root = Path(scratch)
        model = _model(root, args.size_mb)
        digest = manifest_digest(model)
        client = s3.client()
        s3.create_bucket("bench")
        for path in sorted(model.iterdir()):
            client.upload_file(str(path), "bench", f"model/{path.name}")
        os.environ.update(s3.env())
        size = sum(p.stat().st_size for p in model.iterdir()) / 1e6
        ratios = []
        for number in range(1, args.rounds + 1):
            raw_file = root / "raw.onnx"
            started = time.perf_counter()
            client.download_file("bench", "model/model.onnx", str(raw_file))
            raw_s = time.perf_counter() - started
            raw_file.unlink()
            dest = root / "fetched" / str(number)
            started = time.perf_counter()
            fetch_s3("s3://bench/model/", dest)
            download_s = time.perf_counter() - started
            verify_manifest(dest, digest)
            fetch_s = time.perf_counter() - started
            raw_mbs = args.size_mb * 1.048576 / raw_s
            obstore_s = _obstore_get(s3, root / "obstore.onnx")
            if obstore_s:
                print(
                    f"round {number}: obstore {args.size_mb * 1.048576 / obstore_s:7.1f} MB/s (single stream)"
                )
            ratio, download_ratio = (size / fetch_s) / raw_mbs, (size / download_s) / raw_mbs
            ratios.append((ratio, download_ratio))
            print(
                f"round {number}: raw {raw_mbs:7.1f} MB/s  fetch {size / download_s:7.1f} MB/s "
                f"(ratio {download_ratio:.2f})  fetch+verify {size / fetch_s:7.1f} MB/s (ratio {ratio:.2f})  "
                f"load {os.getloadavg()[0]:.2f}"
            )
        print(f"median ratio fetch / raw: {statistics.median(r[1] for r in ratios):.2f}")
        print(f"median ratio fetch+verify / raw: {statistics.median(r[0] for r in ratios):.2f}")


if __name__ == "__main__":
    main()
