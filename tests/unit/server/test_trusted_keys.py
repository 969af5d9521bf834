"""Trusted key fingerprints (platform policy): a model validly signed with a key the platform did not
install is refused, whatever the namespace's key Secret holds; the trusted key serves."""

from __future__ import annotations

import hashlib
from pathlib import Path

from cryptography.hazmat.primitives import serialization

from modelops.package.signing import generate_keypair, key_fingerprint, sign_model_dir
from support.serving import MODEL_TYPE, SEED_HEALTH, ServeFn


def test_fingerprint_is_the_sha256_of_the_der_public_key(tmp_path: Path) -> None:
    _, public = generate_keypair(tmp_path)
    key = serialization.load_pem_public_key(public.read_bytes())
    der = key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    assert key_fingerprint(public) == hashlib.sha256(der).hexdigest()
    rewrapped = tmp_path / "rewrapped.pem"  # another PEM spelling of the same key
    rewrapped.write_text(public.read_text().replace("\n", "\r\n"))
    assert key_fingerprint(rewrapped) == key_fingerprint(public)


async def test_a_valid_signature_by_an_untrusted_key_is_refused(
    serve: ServeFn, models_dir: Path, tmp_path: Path
) -> None:
    private, public = generate_keypair(tmp_path / "author")  # the author's own key, in their Secret
    _, platform = generate_keypair(tmp_path / "platform")
    sign_model_dir(models_dir / MODEL_TYPE / "v1.0.0", private)
    trusted = (key_fingerprint(platform),)
    async with serve(public_key=public, require_signature=True, trusted_keys=trusted) as client:
        response = await client.get(SEED_HEALTH)
    body = response.json()
    assert response.status_code == 503, body
    assert body["reason"] == (
        f"public key {key_fingerprint(public)} is not trusted by the platform policy; trusted: {trusted[0]}"
    )


async def test_the_trusted_key_serves(serve: ServeFn, models_dir: Path, tmp_path: Path) -> None:
    private, public = generate_keypair(tmp_path / "platform")
    sign_model_dir(models_dir / MODEL_TYPE / "v1.0.0", private)
    trusted = ("0" * 64, key_fingerprint(public))
    async with serve(public_key=public, require_signature=True, trusted_keys=trusted) as client:
        body = (await client.get(SEED_HEALTH)).json()
    assert (body["status"], body["metadata"]["signed"]) == ("healthy", True)
