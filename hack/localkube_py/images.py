"""Building the project's images with buildah and loading them into the cluster's containerd.

`load-image NAME` builds `server/Dockerfile`, `operator/Dockerfile` or `hack/images/testhttp/Dockerfile`
FROM the debootstrap base (`--pull=never`), exports a docker-archive cached by a hash of every input, and
imports it into containerd's `k8s.io` namespace. The pause image is built the same way from the static
pause binary. Called by `cli` and by the e2e `load_image` fixture (through `hack/localkube load-image`).
"""

from __future__ import annotations

import hashlib
import shlex
import tempfile
from dataclasses import dataclass
from pathlib import Path

from localkube_py import runtime
from localkube_py.base_image import BASE_IMAGE, ensure_base_image
from localkube_py.progress import say
from localkube_py.settings import REPO_ROOT, Layout
from localkube_py.shell import run, run_logged

DOCKERFILES = {
    "server": "server/Dockerfile",
    "operator": "operator/Dockerfile",
    "testhttp": "hack/images/testhttp/Dockerfile",
}
HOST_CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
# Files buildah must never look at when the repository has no ignore file of its own.
DEFAULT_IGNORES = (
    ".git",
    ".venv",
    ".state",
    "**/__pycache__",
    "**/*.egg-info",
    ".mypy_cache",
    "models",
    "ml",
)


@dataclass(frozen=True)
class ImageSpec:
    """One project image: its Dockerfile (relative to the repo root, the build context) and tag."""

    name: str
    dockerfile: str

    @property
    def tag(self) -> str:
        return f"localhost/modelops-{self.name}:dev"


def spec_for(name: str) -> ImageSpec:
    if name not in DOCKERFILES:
        raise SystemExit(f"unknown image {name!r}; choose one of {', '.join(DOCKERFILES)}")
    return ImageSpec(name, DOCKERFILES[name])


def copy_sources(dockerfile: Path) -> list[str]:
    """The build-context paths a Dockerfile's COPY/ADD instructions read (not `--from` stages)."""
    sources: list[str] = []
    for line in _instructions(dockerfile.read_text()):
        words = shlex.split(line)
        if not words or words[0].upper() not in ("COPY", "ADD"):
            continue
        args = [w for w in words[1:] if not w.startswith("--")]
        if any(w.startswith("--from") for w in words[1:]) or len(args) < 2:
            continue
        sources += [a.lstrip("/") or "." for a in args[:-1]]
    return sources


def _instructions(text: str) -> list[str]:
    """Dockerfile lines with continuations joined and comments dropped."""
    joined = text.replace("\\\n", " ")
    return [
        line.strip() for line in joined.splitlines() if line.strip() and not line.lstrip().startswith("#")
    ]


def input_files(spec: ImageSpec) -> list[str]:
    """Tracked and untracked-but-not-ignored files the build reads, sorted."""
    sources = copy_sources(REPO_ROOT / spec.dockerfile)
    listed = run(["git", "ls-files", "-co", "--exclude-standard", "--", *sources], cwd=REPO_ROOT).stdout
    return sorted({spec.dockerfile, *listed.splitlines()})


def input_hash(spec: ImageSpec) -> str:
    """sha256 over the base image id, the Dockerfile and every file it copies (path and bytes)."""
    digest = hashlib.sha256(run(["podman", "image", "inspect", "-f", "{{.Id}}", BASE_IMAGE]).stdout.encode())
    for relative in input_files(spec):
        path = REPO_ROOT / relative
        if path.is_file():
            digest.update(relative.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def build_args(layout: Layout) -> list[str]:
    """Flags shared by every build: the base image, no pulls, and the host CA bundle for pip (TLS proxy)."""
    pip_conf = layout.state / "build" / "pip.conf"
    pip_conf.parent.mkdir(parents=True, exist_ok=True)
    pip_conf.write_text(f"[global]\ncert = {HOST_CA_BUNDLE}\n")
    flags = ["--pull=never", "--layers", f"--build-arg=BASE_IMAGE={BASE_IMAGE}"]
    flags += [f"--volume={HOST_CA_BUNDLE}:{HOST_CA_BUNDLE}:ro", f"--volume={pip_conf}:/etc/pip.conf:ro"]
    if not any((REPO_ROOT / name).exists() for name in (".dockerignore", ".containerignore")):
        ignore = layout.state / "build" / "ignore"
        ignore.write_text("\n".join(DEFAULT_IGNORES) + "\n")
        flags.append(f"--ignorefile={ignore}")
    return flags


def build_archive(layout: Layout, spec: ImageSpec, archive: Path) -> None:
    """buildah bud the image and save it as a docker-archive at `archive`."""
    log = layout.logs / f"build-{spec.name}.log"
    say(f"building {spec.tag} from {spec.dockerfile} (log {log})")
    argv: list[str | Path] = [
        "buildah",
        "bud",
        *build_args(layout),
        "-f",
        REPO_ROOT / spec.dockerfile,
        "-t",
        spec.tag,
        REPO_ROOT,
    ]
    run_logged(argv, log=log)
    save_archive(spec.tag, archive)


def save_archive(tag: str, archive: Path) -> None:
    archive.parent.mkdir(parents=True, exist_ok=True)
    partial = archive.with_suffix(".partial")
    partial.unlink(missing_ok=True)
    run(["buildah", "push", tag, f"docker-archive:{partial}:{tag}"])
    partial.rename(archive)


def load_image(layout: Layout, name: str) -> str:
    """Build (if its inputs changed) and import image `name` into the cluster; return its tag."""
    spec = spec_for(name)
    if not runtime.responds(layout):
        raise SystemExit("containerd is not running: run `hack/localkube up` first")
    ensure_base_image(layout)
    key = input_hash(spec)
    stamp = layout.state / "images" / f"{spec.name}.hash"
    if stamp.exists() and stamp.read_text() == key and runtime.has_image(layout, spec.tag):
        say(f"{spec.tag} is up to date ({key})")
        return spec.tag
    archive = layout.image_cache / f"modelops-{spec.name}-{key}.tar"
    if not archive.exists():
        build_archive(layout, spec, archive)
        _prune(layout.image_cache, f"modelops-{spec.name}-", keep=archive)
    say(f"importing {spec.tag} into containerd")
    runtime.import_archive(layout, archive)
    stamp.parent.mkdir(parents=True, exist_ok=True)
    stamp.write_text(key)
    return spec.tag


def _prune(directory: Path, prefix: str, keep: Path) -> None:
    """Delete older archives of the same image so the cache does not grow without bound."""
    for old in directory.glob(f"{prefix}*.tar"):
        if old != keep:
            old.unlink(missing_ok=True)


def ensure_pause_image(layout: Layout) -> None:
    """containerd's sandbox image: the statically built pause binary in a scratch image."""
    if runtime.has_image(layout, layout.pause_image):
        return
    archive = layout.image_cache / f"pause-{layout.kubernetes_version}.tar"
    if not archive.exists():
        say(f"building {layout.pause_image}")
        with tempfile.TemporaryDirectory() as context:
            Path(context, "pause").write_bytes(layout.pause_bin.read_bytes())
            Path(context, "pause").chmod(0o755)
            Path(context, "Dockerfile").write_text('FROM scratch\nCOPY pause /pause\nENTRYPOINT ["/pause"]\n')
            run(["buildah", "bud", "--pull=never", "-t", layout.pause_image, context])
        save_archive(layout.pause_image, archive)
    runtime.import_archive(layout, archive)
