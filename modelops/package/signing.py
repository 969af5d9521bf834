"""Model signatures with the OpenSSF `model-signing` library and an elliptic-curve key pair.

`modelctl sign/verify/keygen` call these; the inference server calls `verify_model_dir` before loading
when a public key is configured. The signature (`model.sig`, a Sigstore bundle) covers every file of the
model directory, manifest.json included, so a valid signature also vouches for the manifest's digests.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from modelops.package.errors import SignatureError
from modelops.package.manifest import SIGNATURE_NAME

PRIVATE_KEY_NAME = "signing-key.pem"
PUBLIC_KEY_NAME = "signing-key.pub"


def generate_keypair(out_dir: Path | str) -> tuple[Path, Path]:
    """Write a new P-256 key pair (PEM, private key unencrypted, mode 0600); return (private, public)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    directory = Path(out_dir)
    directory.mkdir(parents=True, exist_ok=True)
    key = ec.generate_private_key(ec.SECP256R1())
    private_path, public_path = directory / PRIVATE_KEY_NAME, directory / PUBLIC_KEY_NAME
    private_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    private_path.chmod(0o600)
    public_path.write_bytes(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return private_path, public_path


def signature_path(model_dir: Path | str) -> Path:
    """Where a model directory's signature lives."""
    return Path(model_dir) / SIGNATURE_NAME


def _hashing_config() -> Any:
    from model_signing import hashing

    config = hashing.Config()  # type: ignore[no-untyped-call]
    return config.set_ignored_paths(paths=[SIGNATURE_NAME], ignore_git_paths=True)


def sign_model_dir(model_dir: Path | str, private_key_path: Path | str) -> Path:
    """Sign every file of `model_dir` (write its manifest first); return the signature path."""
    import model_signing

    directory, out = Path(model_dir), signature_path(model_dir)
    if not Path(private_key_path).is_file():
        raise SignatureError(f"private key {private_key_path} does not exist")
    try:
        config = model_signing.signing.Config()  # type: ignore[no-untyped-call]
        config = config.set_hashing_config(_hashing_config())
        config.use_elliptic_key_signer(private_key=Path(private_key_path)).sign(directory, out)
    except (ValueError, TypeError, OSError) as error:
        raise SignatureError(f"signing {directory} failed: {error}") from error
    return out


def key_fingerprint(public_key_path: Path | str) -> str:
    """sha256 (hex) of the public key's DER SubjectPublicKeyInfo: the same for any PEM spelling of it.

    The platform policy's `trustedKeyFingerprints` lists these; `modelctl keygen` prints it.
    """
    from cryptography.hazmat.primitives import serialization

    try:
        key = serialization.load_pem_public_key(Path(public_key_path).read_bytes())
    except (OSError, ValueError) as error:
        raise SignatureError(f"cannot read public key {public_key_path}: {error}") from error
    der = key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return hashlib.sha256(der).hexdigest()


def verify_model_dir(model_dir: Path | str, public_key_path: Path | str) -> None:
    """Raise SignatureError unless `model.sig` is a valid signature of the directory by that key."""
    import model_signing

    directory, sig = Path(model_dir), signature_path(model_dir)
    if not sig.is_file():
        raise SignatureError(f"missing signature {SIGNATURE_NAME} (model is unsigned)")
    if not Path(public_key_path).is_file():
        raise SignatureError(f"public key {public_key_path} does not exist")
    try:
        config = model_signing.verifying.Config()  # type: ignore[no-untyped-call]
        config = config.set_hashing_config(_hashing_config())
        config.use_elliptic_key_verifier(public_key=Path(public_key_path)).verify(directory, sig)
    except Exception as error:  # the library raises several unrelated types for a bad signature
        raise SignatureError(f"signature verification failed for {SIGNATURE_NAME}: {error}") from error
