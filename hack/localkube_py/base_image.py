"""The Debian bookworm base image every project image builds FROM (`localhost/modelops-base:bookworm`).

Made once with debootstrap and cached as a root-filesystem tarball in ~/.cache/modelops/images, then
imported into the buildah/podman storage. Called by `images.ensure_base_image` before any image build;
`keep_only_tag` is shared by the content-keyed tags of `images` and `node_image`.
"""

from __future__ import annotations

import re
import shutil
import tempfile
from pathlib import Path

from localkube_py.progress import say
from localkube_py.settings import Layout
from localkube_py.shell import run, run_logged

BASE_IMAGE = "localhost/modelops-base:bookworm"
SUITE = "bookworm"
MIRROR = "http://deb.debian.org/debian"
PACKAGES = ("python3", "python3-venv", "ca-certificates")
CACHE_NAME = "modelops-base-bookworm-v1.tar"
KEYED_TAG = re.compile(r"(\d+-)?[0-9a-f]{16}")  # `<hash>` or `20-<hash>`, never `dev` or `bookworm`


def image_exists(name: str) -> bool:
    """Whether the buildah/podman storage holds `name`."""
    return run(["podman", "image", "exists", name], check=False).returncode == 0


def keep_only_tag(image_id: str, tag: str) -> None:
    """Tag `image_id` as `tag` and untag older content-keyed tags of the same repository (images that a
    container still uses stay), so podman's storage does not grow by one image per change."""
    run(["podman", "tag", image_id, tag])
    repository, _, current = tag.rpartition(":")
    listed = run(["podman", "images", "--format", "{{.Repository}}:{{.Tag}}", repository], check=False)
    for other in listed.stdout.split():
        old = other.rpartition(":")[2]
        if old != current and KEYED_TAG.fullmatch(old):
            run(["podman", "rmi", other], check=False)


def ensure_base_image(layout: Layout) -> None:
    """Make sure the base image is in the local image storage, building it only when nothing is cached."""
    if image_exists(BASE_IMAGE):
        return
    tarball = layout.image_cache / CACHE_NAME
    if not tarball.exists():
        debootstrap_rootfs(layout, tarball)
    say(f"importing {tarball.name} as {BASE_IMAGE}")
    run(["podman", "import", "--change", 'CMD ["/bin/bash"]', tarball, BASE_IMAGE])


def debootstrap_rootfs(layout: Layout, tarball: Path) -> None:
    """debootstrap a minimal bookworm with python3 and pack it as a tarball (several minutes, once)."""
    tarball.parent.mkdir(parents=True, exist_ok=True)
    log = layout.logs / "debootstrap.log"
    with tempfile.TemporaryDirectory(prefix="modelops-base-", dir=tarball.parent) as tmp:
        rootfs = Path(tmp) / "rootfs"
        say(f"debootstrap {SUITE} base image (a few minutes, once; log {log})")
        include = ",".join(PACKAGES)
        run_logged(
            ["debootstrap", "--variant=minbase", f"--include={include}", SUITE, rootfs, MIRROR], log=log
        )
        for leftover in ("var/cache/apt/archives", "var/lib/apt/lists"):
            shutil.rmtree(rootfs / leftover, ignore_errors=True)
        partial = tarball.with_suffix(".partial")
        run(["tar", "--numeric-owner", "-C", rootfs, "-cf", partial, "."])
        partial.rename(tarball)
    say(f"base image root filesystem cached in {tarball}")
