"""Paths to the external tools the tests drive (helm, lua), and running them with clear failures.

The chart and Argo CD tests call these instead of `shutil.which` so that every test uses the pinned
binaries `hack/localkube build` puts in the cache, and a missing tool FAILS with the command that
provides it: these tests never skip silently.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
CHART_DIR = REPO_ROOT / "charts" / "modelops"
CRDS_DIR = REPO_ROOT / "crds"


def _pinned_versions() -> dict[str, str]:
    pairs = (line.split("=", 1) for line in (REPO_ROOT / "hack" / "versions.env").read_text().splitlines())
    return {key.strip(): value.strip() for key, value in (p for p in pairs if len(p) == 2)}


def cache_dir() -> Path:
    """The binaries cache shared with hack/build-binaries (MODELOPS_CACHE overrides it there too)."""
    return Path(os.environ.get("MODELOPS_CACHE", Path.home() / ".cache" / "modelops"))


def helm_path() -> Path:
    """The pinned helm binary built by `hack/localkube build`; fails the test when it is missing."""
    version = _pinned_versions()["HELM_VERSION"]
    helm = cache_dir() / "bin" / f"helm-{version}" / "helm"
    if not os.access(helm, os.X_OK):
        pytest.fail(f"helm {version} not found at {helm}: run `hack/localkube build` first", pytrace=False)
    return helm


def lua_path() -> Path:
    """The Lua 5.1 interpreter (Argo CD runs health checks in gopher-lua, a Lua 5.1 dialect)."""
    found = shutil.which("lua5.1")
    if found is None:
        pytest.fail("lua5.1 not found: install it with `apt-get install lua5.1`", pytrace=False)
    return Path(found)


def run_tool(
    args: Sequence[str | Path], *, check: bool = True, **kwargs: object
) -> subprocess.CompletedProcess[str]:
    """Run a tool, capturing text output; on failure the assertion shows the command and its stderr."""
    result = subprocess.run([str(a) for a in args], capture_output=True, text=True, check=False, **kwargs)  # type: ignore[call-overload]
    if check and result.returncode != 0:
        pytest.fail(f"{' '.join(map(str, args))} exited {result.returncode}:\n{result.stderr}{result.stdout}")
    return result  # type: ignore[no-any-return]


def gateway_api_crd(resource: str) -> Path:
    """The pinned Gateway API CRD of `resource` (e.g. httproutes), standard channel, copied out of the
    sigs.k8s.io/gateway-api module by `hack/build-binaries gateway-api`; fails the test when missing."""
    version = _pinned_versions()["GATEWAY_API_VERSION"]
    crd = cache_dir() / "bin" / f"gateway-api-{version}" / f"gateway.networking.k8s.io_{resource}.yaml"
    if not crd.is_file():
        how = "run `hack/build-binaries gateway-api` (part of `hack/localkube build`)"
        pytest.fail(f"{crd} is missing: {how}", pytrace=False)
    return crd
