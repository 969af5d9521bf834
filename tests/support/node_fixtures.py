"""Model directories and the Python server's answers for the Node.js client's tests (clients/node/test/).

`PYTHONPATH=tests python -m support.node_fixtures OUT` writes `OUT/models/` (several types and versions
built by `support.models.make_model_dir`, a BERT-like encoder from `bench/encoder_model.py`, and the tiny
Hugging Face BERT of `support.tiny_bert` exported, signed and packaged by `modelctl deploy-model`, from its
content-keyed cache, its verifying key in `OUT/bert-keys/`),
`OUT/signed/` (a model signed with model-signing, key pair in `OUT/keys/`), `OUT/persona/` (the tiny
text-generation Llama of `support.persona`, from its content-keyed cache: `models/` and the verifying key
`keys/signing-key.pub`, served by real `modelops-server` processes in the Node generation tests) and
`OUT/vectors.json`: for
each model, texts with the label and scores that the server's own `TextClassifier` gives, one text at a
time and as one batch. The Node suite's setup runs it, so the Node side is checked against numbers the
Python side produced, not against numbers the Node side wrote.
`... reasons MODELS_DIR TYPE/VERSION[/KEY]...` prints, as JSON, the reason the server's own loader gives for
each (tampered) directory, so the Node tests compare reason texts with the server's, not with a copy.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path
from typing import Any

from modelops.package.metadata import ModelMetadata
from modelops.package.signing import generate_keypair, sign_model_dir
from modelops_server.errors import VerificationError
from modelops_server.loader import locate_model
from modelops_server.model import TextClassifier, load_verified_model
from modelops_server.settings import ServerSettings
from support.models import make_model_dir
from support.persona import cached_persona_models
from support.tiny_bert import cached_tiny_bert_deployment

TEXTS = [
    "hello, how are you today?",
    "I want to hurt myself",
    "Thanks friend, I feel GOOD today!",
    "what can we do about the weapon danger",
    "zebra quantum xylophone",
    "I am tired... sleep, work, sleep; talking about my day",
    "Ça va? naïve café — über 😀",
    " ".join(["i feel sad and tired today"] * 30),
]
MODELS = [
    ("safety_classifier", "v1.0.0", ("safe", "risk")),
    ("safety_classifier", "v1.1.0", ("safe", "risk")),
    ("safety_classifier", "v1.2.0-rc.1", ("safe", "risk")),
    ("safety_classifier", "v1.10.0", ("safe", "risk")),
    ("intent_classifier", "v0.9.0", ("chat", "question", "crisis")),
    ("intent_classifier", "v0.10.0", ("chat", "question", "crisis")),
]
HF_BERT = ("hf_bert_classifier", "v1.0.0")


def _encoder_dir(models: Path) -> Path:
    """A BERT-like encoder (attention with the padding mask, GELU, LayerNorm) from bench/encoder_model.py."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
    from encoder_model import build_encoder

    encoder = build_encoder(layers=2, hidden=64, heads=4, num_labels=2, seed=7)
    return make_model_dir(models, "encoder_classifier", "v1.0.0", ("safe", "risk"), model_bytes=encoder)


def _hf_bert_dir(out: Path) -> Path:
    """The tiny HF BERT as `deploy-model --export onnx --sign-key --package` wrote it, copied in."""
    deployment = cached_tiny_bert_deployment(HF_BERT[0], HF_BERT[1])
    shutil.copytree(deployment.root / HF_BERT[0], out / "models" / HF_BERT[0], symlinks=True)
    (out / "bert-keys").mkdir()
    shutil.copy2(deployment.public_key, out / "bert-keys" / deployment.public_key.name)
    return out / "models" / HF_BERT[0] / HF_BERT[1]


def _answers(model_dir: Path) -> dict[str, Any]:
    metadata = ModelMetadata.load(model_dir)
    classifier = TextClassifier.load(model_dir, metadata, threads=1)
    single = [classifier.predict([text]).rows()[0] for text in TEXTS]
    batch = classifier.predict(TEXTS).rows()
    return {
        "model_type": metadata.model_type,
        "version": metadata.version,
        "single": [{"label": label, "scores": scores} for label, scores in single],
        "batch": [{"label": label, "scores": scores} for label, scores in batch],
    }


def write_fixtures(out: Path) -> Path:
    """Write every fixture under `out` (emptied first) and return the vectors file."""
    shutil.rmtree(out, ignore_errors=True)
    models = out / "models"
    answers = [_answers(make_model_dir(models, t, v, labels)) for t, v, labels in MODELS]
    answers.append(_answers(_encoder_dir(models)))
    answers.append(_answers(_hf_bert_dir(out)))
    _private, _public = generate_keypair(out / "keys")
    signed = make_model_dir(out / "signed", "safety_classifier", "v1.0.0")
    sign_model_dir(signed, _private)
    persona = cached_persona_models()
    shutil.copytree(persona.root, out / "persona" / "models", symlinks=True)
    (out / "persona" / "keys").mkdir()
    shutil.copy2(persona.public_key, out / "persona" / "keys" / persona.public_key.name)
    vectors = out / "vectors.json"
    vectors.write_text(json.dumps({"texts": TEXTS, "models": answers}, indent=2) + "\n")
    return vectors


def server_reason(models_dir: Path, spec: str) -> str | None:
    """What the server says about `type/version[/public-key-path]`: None when it loads, else its reason."""
    model_type, version, *key = spec.split("/", 2)
    public_key = Path("/" + key[0].lstrip("/")) if key else None
    settings = ServerSettings(
        models_dir=models_dir, model_type=model_type, version=version, public_key=public_key
    )
    try:
        load_verified_model(settings, locate_model(settings))
    except VerificationError as error:
        return str(error)
    return None


def main(argv: list[str]) -> None:
    """`OUT` writes the fixtures; `reasons MODELS_DIR SPEC...` prints the server's reasons as JSON."""
    if argv[0] == "reasons":
        print(json.dumps({spec: server_reason(Path(argv[1]), spec) for spec in argv[2:]}))
    else:
        print(write_fixtures(Path(argv[0])))


if __name__ == "__main__":
    main(sys.argv[1:])
