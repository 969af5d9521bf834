"""The model package format shared by the tooling (`modelctl`, registry) and the inference server.

A model directory holds model.onnx, metadata.json, manifest.json (sha256 of every file), optional
tokenizer.json, model.pt and model.sig (OpenSSF model-signing bundle). Submodules: `metadata`, `manifest`,
`archive` (reproducible .tar.gz and safe extraction), `signing`, `errors`.
"""

from modelops.package.errors import (
    ArchiveError,
    ManifestError,
    MetadataError,
    PackageError,
    SignatureError,
)
from modelops.package.manifest import (
    MANIFEST_NAME,
    SIGNATURE_NAME,
    manifest_digest,
    verify_manifest,
    write_manifest,
)
from modelops.package.metadata import METADATA_NAME, Golden, ModelMetadata, TensorSpec

__all__ = [
    "MANIFEST_NAME",
    "METADATA_NAME",
    "SIGNATURE_NAME",
    "ArchiveError",
    "Golden",
    "ManifestError",
    "MetadataError",
    "ModelMetadata",
    "PackageError",
    "SignatureError",
    "TensorSpec",
    "manifest_digest",
    "verify_manifest",
    "write_manifest",
]
