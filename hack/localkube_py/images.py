"""Building the project's images with buildah, for the cluster's containerd or for podman.

`load-image NAME` builds `server/Dockerfile`, `operator/Dockerfile`, `hack/images/testhttp/Dockerfile` or
`examples/node-backend/Dockerfile` FROM the debootstrap base (`--pull=never`; the backend FROM the Node.js
image of `node_image`), exports a docker-archive cached by a hash of every input, and imports it into
containerd's `k8s.io` namespace. `image NAME` leaves it in podman's storage instead, tagged with that hash
(for podman-compose). The pause image is built the same way from the static pause binary. Called by `cli`
and by the e2e fixtures (through `hack/localkube load-image` and `hack/localkube image`).
"""

from __future__ import annotations

import hashlib
import shlex
import tempfile
from dataclasses import dataclass
from pathlib import Path

from localkube_py import node_image, runtime
from localkube_py.base_image import BASE_IMAGE, ensure_base_image, image_exists, keep_only_tag
from localkube_py.progress import say
from localkube_py.settings import REPO_ROOT, Layout
from localkube_py.shell import run, run_logged

DOCKERFILES = {
    "server": "server/Dockerfile",
    "operator": "operator/Dockerfile",
    "testhttp": "hack/images/testhttp/Dockerfile",
    "node-backend": "examples/node-backend/Dockerfile",
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
    def repository(self) -> str:
        return f"localhost/modelops-{self.name}"

    @property
    def tag(self) -> str:
        return f"{self.repository}:dev"


@dataclass(frozen=True)
class BuildInputs:
    """What a build needs besides the repository: the images it builds FROM and extra buildah flags."""

    parents: tuple[str, ...]
    flags: tuple[str, ...] = ()


def prepare(layout: Layout, spec: ImageSpec) -> BuildInputs:
    """Make sure the parent images exist; the backend also gets NODE_IMAGE and the host's npm cache."""
    ensure_base_image(layout)
    if spec.name != "node-backend":
        return BuildInputs((BASE_IMAGE,))
    node = node_image.ensure_node_image(layout)
    npm_cache = layout.cache / "npm"
    npm_cache.mkdir(parents=True, exist_ok=True)
    npmrc = layout.state / "build" / "npmrc"
    npmrc.parent.mkdir(parents=True, exist_ok=True)
    npmrc.write_text(f"cafile={HOST_CA_BUNDLE}\nprefer-offline=true\nupdate-notifier=false\n")
    flags = (
        f"--build-arg=NODE_IMAGE={node}",
        f"--volume={npm_cache}:/root/.npm",
        f"--volume={npmrc}:/root/.npmrc:ro",
    )
    return BuildInputs((BASE_IMAGE, node), flags)


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


def input_hash(spec: ImageSpec, parents: tuple[str, ...] = (BASE_IMAGE,)) -> str:
    """sha256 over the parent images' ids, the Dockerfile and every file it copies (path and bytes)."""
    digest = hashlib.sha256()
    for parent in parents:
        digest.update(run(["podman", "image", "inspect", "-f", "{{.Id}}", parent]).stdout.encode())
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


def build_archive(layout: Layout, spec: ImageSpec, archive: Path, inputs: BuildInputs) -> str:
    """buildah bud the image, save it as a docker-archive at `archive` and return the image id."""
    log = layout.logs / f"build-{spec.name}.log"
    say(f"building {spec.tag} from {spec.dockerfile} (log {log})")
    iidfile = layout.state / "build" / f"{spec.name}.iid"
    argv: list[str | Path] = ["buildah", "bud", *build_args(layout), *inputs.flags, f"--iidfile={iidfile}"]
    run_logged([*argv, "-f", REPO_ROOT / spec.dockerfile, "-t", spec.tag, REPO_ROOT], log=log)
    image_id = iidfile.read_text().strip()
    save_archive(image_id, archive, spec.tag)
    return image_id


def save_archive(image: str, archive: Path, tag: str | None = None) -> None:
    """Push `image` (a tag or an id) to a docker-archive named `tag` (default: `image`)."""
    archive.parent.mkdir(parents=True, exist_ok=True)
    partial = archive.with_suffix(".partial")
    partial.unlink(missing_ok=True)
    run(["buildah", "push", image, f"docker-archive:{partial}:{tag or image}"])
    partial.rename(archive)


def load_image(layout: Layout, name: str) -> str:
    """Build (if its inputs changed) and import image `name` into the cluster; return its tag."""
    spec = spec_for(name)
    if not runtime.responds(layout):
        raise SystemExit("containerd is not running: run `hack/localkube up` first")
    inputs = prepare(layout, spec)
    key = input_hash(spec, inputs.parents)
    stamp = layout.state / "images" / f"{spec.name}.hash"
    if stamp.exists() and stamp.read_text() == key and runtime.has_image(layout, spec.tag):
        say(f"{spec.tag} is up to date ({key})")
        return spec.tag
    archive = layout.image_cache / f"modelops-{spec.name}-{key}.tar"
    if not archive.exists():
        image_id = build_archive(layout, spec, archive, inputs)
        _prune(layout.image_cache, f"modelops-{spec.name}-", keep=archive)
        keep_only_tag(image_id, f"{spec.repository}:{key}")  # what `image NAME` looks for
    say(f"importing {spec.tag} into containerd")
    runtime.import_archive(layout, archive)
    stamp.parent.mkdir(parents=True, exist_ok=True)
    stamp.write_text(key)
    return spec.tag


def podman_image(layout: Layout, name: str) -> str:
    """Build (if its inputs changed) image `name` into podman's storage; return its content-keyed tag.

    The keyed tag (`localhost/modelops-NAME:<hash>`), not `:dev`, is what callers run: another checkout
    may retag `:dev` with other content at any time.
    """
    spec = spec_for(name)
    inputs = prepare(layout, spec)
    keyed = f"{spec.repository}:{input_hash(spec, inputs.parents)}"
    if image_exists(keyed):
        return keyed
    archive = layout.image_cache / f"modelops-{spec.name}-{keyed.rsplit(':', 1)[1]}.tar"
    if archive.exists():
        say(f"loading {keyed} from {archive.name}")
        image_id = run(["podman", "pull", "-q", f"docker-archive:{archive}"]).stdout.strip().splitlines()[-1]
    else:
        image_id = build_archive(layout, spec, archive, inputs)
        _prune(layout.image_cache, f"modelops-{spec.name}-", keep=archive)
    keep_only_tag(image_id, keyed)
    return keyed


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
