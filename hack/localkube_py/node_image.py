"""The Node.js 20 image the example backend builds FROM, made offline from the host's Node.js.

No Node base image can be pulled here, so `hack/images/node/Dockerfile` puts the host's `node` binary and
its npm on the debootstrap base (`localhost/modelops-base:bookworm`). The result is tagged
`localhost/modelops-node:20-<hash>` (base image id, Dockerfile, node binary, npm's package.json) and
cached as a docker-archive in ~/.cache/modelops/images. Called by `images.prepare` for `node-backend`.
"""

from __future__ import annotations

import hashlib
import shutil
import tempfile
from pathlib import Path

from localkube_py.base_image import BASE_IMAGE, image_exists, keep_only_tag
from localkube_py.progress import say
from localkube_py.settings import HACK_DIR, Layout
from localkube_py.shell import run, run_logged

DOCKERFILE = HACK_DIR / "images" / "node" / "Dockerfile"
REPOSITORY = "localhost/modelops-node"
MAJOR = 20


def host_node() -> tuple[Path, Path]:
    """The host's node binary and npm package directory (npm's bin/npm-cli.js lives two levels down)."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        raise SystemExit("the Node.js image needs node and npm on the host (Node.js 20)")
    version = run([node, "--version"]).stdout.strip()
    if not version.startswith(f"v{MAJOR}."):
        raise SystemExit(f"the Node.js image needs the host's Node.js {MAJOR}, found {version}")
    return Path(node).resolve(), Path(npm).resolve().parent.parent


def node_key(node: Path, npm: Path) -> str:
    """sha256 over the base image id, the Dockerfile, the node binary and npm's package.json."""
    digest = hashlib.sha256(run(["podman", "image", "inspect", "-f", "{{.Id}}", BASE_IMAGE]).stdout.encode())
    for part in (DOCKERFILE, node, npm / "package.json"):
        digest.update(part.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def ensure_node_image(layout: Layout) -> str:
    """Tag of the Node.js image in the local storage: loaded from the cache, or built once."""
    node, npm = host_node()
    tag = f"{REPOSITORY}:{MAJOR}-{node_key(node, npm)}"
    if image_exists(tag):
        return tag
    archive = layout.image_cache / f"modelops-node-{tag.rsplit(':', 1)[1]}.tar"
    if not archive.exists():
        _build(layout, tag, node, npm, archive)
        keep_only_tag(tag, tag)
    else:
        say(f"loading {tag} from {archive.name}")
        image_id = run(["podman", "pull", "-q", f"docker-archive:{archive}"]).stdout.strip().splitlines()[-1]
        keep_only_tag(image_id, tag)
    return tag


def _build(layout: Layout, tag: str, node: Path, npm: Path, archive: Path) -> None:
    log = layout.logs / "build-node.log"
    say(f"building {tag} from the host's {node} (log {log})")
    with tempfile.TemporaryDirectory(prefix="modelops-node-") as context:
        shutil.copy2(node, Path(context, "node"))
        shutil.copytree(npm, Path(context, "npm"), symlinks=True)
        argv: list[str | Path] = ["buildah", "bud", "--pull=never", f"--build-arg=BASE_IMAGE={BASE_IMAGE}"]
        run_logged([*argv, "-f", DOCKERFILE, "-t", tag, context], log=log)
    archive.parent.mkdir(parents=True, exist_ok=True)
    partial = archive.with_suffix(".partial")
    partial.unlink(missing_ok=True)
    run(["buildah", "push", tag, f"docker-archive:{partial}:{tag}"])
    partial.rename(archive)
    for old in archive.parent.glob("modelops-node-*.tar"):
        if old != archive and not old.name.startswith("modelops-node-backend-"):
            old.unlink(missing_ok=True)
