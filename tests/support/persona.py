"""A tiny text-generation model in the package format, for the server's generation tests.

`persona_models` builds a tiny Llama (`support.tiny_llama`), exports it with
`modelops.export_generation` (onnxruntime-genai builder, fp32), writes the manifest and signs it, as
`<root>/persona_model/v1.0.0`; `cached_persona_models` keeps one build under
`~/.cache/modelops/models/persona_model-<key>/` (the key hashes the code that builds it and the versions of
the libraries that shape its bytes), for callers outside a pytest session (the Node client's fixtures,
`support.node_fixtures`); `tamper_golden` makes a copy whose golden token ids are wrong but whose
manifest and signature are valid, so only the golden generation can catch it.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

from modelops.export_generation import export_generation
from modelops.package.manifest import write_manifest
from modelops.package.signing import PRIVATE_KEY_NAME, PUBLIC_KEY_NAME, generate_keypair, sign_model_dir
from modelops.training.cache import CACHE_ROOT, cached_build
from support.fixture_cache import code_cache_key
from support.tiny_llama import build_tiny_llama

PERSONA = "persona_model"
VERSION = "v1.0.0"
KEY_SOURCES = (
    "tests/support/tiny_llama.py", "tests/support/persona.py", "modelops/export_generation.py",
    "modelops/package/generation.py", "modelops/package/metadata.py", "modelops/package/manifest.py",
    "modelops/package/signing.py",
)  # fmt: skip
KEY_PACKAGES = ("torch", "transformers", "tokenizers", "onnxruntime-genai", "model-signing")


@dataclass(frozen=True)
class PersonaModels:
    """The models directory, the Hugging Face source and the verifying key."""

    root: Path
    source: Path
    public_key: Path
    private_key: Path

    @property
    def model_dir(self) -> Path:
        return self.root / PERSONA / VERSION


def persona_models(base: Path) -> PersonaModels:
    """Build, export, manifest and sign the tiny persona model under `base`."""
    source = build_tiny_llama(base / "hf")
    private_key, public_key = generate_keypair(base / "keys")
    root = base / "models"
    export_generation(source, root / PERSONA / VERSION, PERSONA, VERSION)
    seal(root / PERSONA / VERSION, private_key)
    return PersonaModels(root, source, public_key, private_key)


def persona_cache_key() -> str:
    """sha256 over the building code and the library versions, 16 hex digits."""
    return code_cache_key(KEY_SOURCES, KEY_PACKAGES)


def cached_persona_models(cache_root: Path = CACHE_ROOT) -> PersonaModels:
    """The tiny persona model from the content-keyed cache, built (under a file lock) when absent."""
    target, _ = cached_build(cache_root, f"{PERSONA}-{persona_cache_key()}", _build_persona_models)
    keys = target / "keys"
    return PersonaModels(target / "models", target / "hf", keys / PUBLIC_KEY_NAME, keys / PRIVATE_KEY_NAME)


def _build_persona_models(out: Path) -> None:
    out.mkdir()
    persona_models(out)


def seal(model_dir: Path, private_key: Path) -> str:
    """Manifest + signature; returns the artifact digest."""
    (model_dir / "model.sig").unlink(missing_ok=True)
    digest = write_manifest(model_dir)
    sign_model_dir(model_dir, private_key)
    return digest


def tamper_golden(models: PersonaModels, root: Path, version: str = "v1.0.1") -> Path:
    """A correctly signed copy of the model (as `version`) whose golden token ids are shifted by one."""
    target = root / PERSONA / version
    shutil.copytree(models.model_dir, target)
    path = target / "metadata.json"
    metadata = json.loads(path.read_text(encoding="utf-8"))
    metadata["version"] = version
    golden = metadata["generation"]["golden"]
    golden["token_ids"] = [(t + 1) % metadata["generation"]["vocab_size"] for t in golden["token_ids"]]
    path.write_text(json.dumps(metadata, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    seal(target, models.private_key)
    return target
