"""The seed's one-shot `deploy_model.py` steps: copy → export to ONNX → manifest → sign → `latest` link →
package, writing the seed's store layout (`models/<type>/<version>/`, `model_packages/`).

Called by `modelctl deploy-model` (and by `modelctl package`/`sign` for single steps). Registering the
version is a separate step (`modelctl register`), as in the seed.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from modelops.export import ONNX_NAME, ExportOptions, ExportResult, export_model
from modelops.package.archive import build_package
from modelops.package.errors import PackageError
from modelops.package.manifest import MANIFEST_NAME, SIGNATURE_NAME, write_manifest
from modelops.package.signing import sign_model_dir
from modelops.versions import canonical, parse_version

Step = Callable[[str], None]
CHECKPOINT_NAME = "model.pt"
LATEST_LINK = "latest"


@dataclass(frozen=True)
class DeployModelRequest:
    """What `modelctl deploy-model` was asked to do."""

    model_type: str
    model_path: Path
    version: str
    models_dir: Path
    export: str | None = "onnx"
    package: bool = False
    sign_key: Path | None = None
    packages_dir: Path | None = None
    options: ExportOptions = field(default_factory=ExportOptions)


@dataclass(frozen=True)
class DeployModelResult:
    """Where everything went."""

    model_dir: Path
    digest: str
    export: ExportResult | None
    signature: Path | None
    package: Path | None


def model_dir_for(models_dir: Path, model_type: str, version: str) -> Path:
    """`models/<type>/<version>` (canonical version spelling)."""
    return models_dir / model_type / canonical(version)


def default_packages_dir(models_dir: Path) -> Path:
    """`model_packages/` beside the models directory, as in the seed's `ml/` layout."""
    return models_dir.resolve().parent / "model_packages"


def package_path(packages_dir: Path, model_type: str, version: str) -> Path:
    """`model_packages/<type>_<version>.tar.gz`."""
    return packages_dir / f"{model_type}_{canonical(version)}.tar.gz"


def update_latest_link(models_dir: Path, model_type: str) -> Path | None:
    """Point `models/<type>/latest` at the highest version directory (atomically replaced)."""
    type_dir = models_dir / model_type
    versions = [
        p.name for p in type_dir.iterdir() if p.is_dir() and not p.is_symlink() and _is_version(p.name)
    ]
    if not versions:
        return None
    link, temp = type_dir / LATEST_LINK, type_dir / f".{LATEST_LINK}.tmp"
    temp.unlink(missing_ok=True)
    temp.symlink_to(max(versions, key=parse_version), target_is_directory=True)
    os.replace(temp, link)
    return link


def _is_version(name: str) -> bool:
    try:
        parse_version(name)
    except ValueError:
        return False
    return True


def copy_checkpoint(model_path: Path, model_dir: Path) -> Path:
    """Place model.pt in the version directory (no copy when it is already there)."""
    target = model_dir / CHECKPOINT_NAME
    if not model_path.is_file():
        raise FileNotFoundError(f"model file not found: {model_path}")
    if not (target.exists() and target.samefile(model_path)):
        shutil.copyfile(model_path, target)
    return target


def _seal(model_dir: Path, sign_key: Path | None, report: Step) -> tuple[str, Path | None]:
    """Manifest (and signature with a key) over the directory's files."""
    report("hash files into manifest.json")
    (model_dir / "model.sig").unlink(missing_ok=True)  # a stale signature would no longer match
    digest = write_manifest(model_dir)
    signature = None
    if sign_key is not None:
        report("sign")
        signature = sign_model_dir(model_dir, sign_key)
    return digest, signature


def _publish(staged: Path, final: Path) -> None:
    """Replace `final` with the finished `staged` directory by renames, so no half-written model shows."""
    final.parent.mkdir(parents=True, exist_ok=True)
    old = final.parent / f".{final.name}.old-{os.getpid()}"
    if final.exists():
        os.replace(final, old)
    os.replace(staged, final)
    shutil.rmtree(old, ignore_errors=True)


def _carry_over(final: Path, staged: Path) -> None:
    """Files already in the version directory that the export does not produce (e.g. the trainer's
    metrics.json) stay, and are hashed and signed with the rest; the old manifest and signature do not."""
    if not final.is_dir():
        return
    for path in final.iterdir():
        sealed = path.name in {MANIFEST_NAME, SIGNATURE_NAME}
        if path.is_file() and not sealed and not (staged / path.name).exists():
            shutil.copy2(path, staged / path.name)


def _export_staged(
    request: DeployModelRequest, final: Path, report: Step
) -> tuple[ExportResult, str, Path | None]:
    """Export, copy the .pt, manifest and sign in a staging directory beside `final`, then rename it in.
    The staged directory has the version's own name, so the signature names the same directory."""
    final.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".staging-", dir=final.parent) as scratch:
        staged = Path(scratch) / final.name
        exported = export_model(
            request.model_path, staged, request.model_type, final.name, report, options=request.options
        )
        if request.model_path.is_file():
            report("copy model")
            copy_checkpoint(request.model_path, staged)
        _carry_over(final, staged)
        digest, signature = _seal(staged, request.sign_key, report)
        _publish(staged, final)
    moved = ExportResult(final / ONNX_NAME, exported.metadata, exported.max_abs_diff)
    return moved, digest, final / signature.name if signature else None


def export_into(
    model_path: Path, directory: Path, model_type: str, version: str, *, report: Step, options: ExportOptions
) -> ExportResult:
    """`modelctl export`: export in a staging directory, then move the produced files into `directory`
    (other files there, such as model.pt, stay), so a failed export leaves nothing behind."""
    directory.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".staging-", dir=directory.parent) as scratch:
        staged = Path(scratch) / directory.name
        exported = export_model(model_path, staged, model_type, version, report, options=options)
        for produced in sorted(staged.iterdir()):
            os.replace(produced, directory / produced.name)
    return ExportResult(directory / ONNX_NAME, exported.metadata, exported.max_abs_diff)


def deploy_model(request: DeployModelRequest, step: Step | None = None) -> DeployModelResult:
    """Run the seed's steps for one model version; `step` is told the name of each step as it starts."""
    report = step or (lambda _name: None)
    model_dir = model_dir_for(request.models_dir, request.model_type, request.version)
    exported = None
    if request.export == "onnx":
        exported, digest, signature = _export_staged(request, model_dir, report)
    else:
        if request.model_path.is_dir():
            raise PackageError(f"{request.model_path} is a directory: deploy it with --export onnx")
        model_dir.mkdir(parents=True, exist_ok=True)
        report("copy model")
        copy_checkpoint(request.model_path, model_dir)
        if not (model_dir / ONNX_NAME).is_file():
            raise PackageError(f"{model_dir} has no {ONNX_NAME}; run with --export onnx")
        digest, signature = _seal(model_dir, request.sign_key, report)
    update_latest_link(request.models_dir, request.model_type)
    package = None
    if request.package:
        report("build package")
        packages_dir = request.packages_dir or default_packages_dir(request.models_dir)
        package = build_package(model_dir, package_path(packages_dir, request.model_type, model_dir.name))
    return DeployModelResult(model_dir, digest, exported, signature, package)
