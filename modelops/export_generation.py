"""Export a Hugging Face causal language model (`save_pretrained` directory) to an onnxruntime-genai
model directory in the modelops package format, with `task: text-generation` metadata.

`modelops.export.export_model` hands a directory whose config.json names a `...ForCausalLM` to
`export_generation` (so `modelctl export` and `modelctl deploy-model --model-path` take causal LMs).
The graph comes from onnxruntime-genai's model builder (a decoder with a KV cache; `fp32`, or `int4`
weights with int8 activations for CPU). The prompt is built from the model's Hugging Face chat
template (`modelops.package.generation.render_prompt`, checked here against
`tokenizer.apply_chat_template`), and the golden generation (greedy token ids of fixed messages) is
recorded from the exported graph; for fp32 it must also equal `transformers`' greedy output. The
source's held-out figures (`metrics.json`, when present) become the metadata's `metrics`.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from modelops.package.generation import (
    GOLDEN_MESSAGES,
    GOLDEN_NEW_TOKENS,
    GenerationDefaults,
    GenerationGolden,
    GenerationSpec,
    render_prompt,
)
from modelops.package.metadata import TEXT_GENERATION, ModelMetadata

GENAI_CONFIG = "genai_config.json"
PRECISIONS = ("fp32", "int4")
SPECIAL_TOKEN_KEYS = ("bos_token", "eos_token", "pad_token", "unk_token")
BUILDER_VERSION = "0.10.0"
Step = Callable[[str], None]


class GenerationExportError(RuntimeError):
    """The causal LM could not be exported, or the export does not reproduce the source model."""


@dataclass(frozen=True)
class GenerationExport:
    """Where the graph went and the metadata written beside it."""

    onnx_path: Path
    metadata: ModelMetadata


def is_causal_lm(model_path: Path | str) -> bool:
    """True for a save_pretrained directory whose config.json names a `...ForCausalLM` architecture."""
    config = Path(model_path) / "config.json"
    if not config.is_file():
        return False
    try:
        architectures = json.loads(config.read_text(encoding="utf-8")).get("architectures") or []
    except (OSError, ValueError, AttributeError):
        return False
    return any(str(name).endswith("ForCausalLM") for name in architectures)


def export_generation(
    model_path: Path | str,
    out_dir: Path | str,
    model_type: str,
    version: str,
    step: Step | None = None,
    *,
    precision: str = "fp32",
    defaults: GenerationDefaults | None = None,
) -> GenerationExport:
    """model_path (save_pretrained causal LM) → out_dir with the genai graph, tokenizer and metadata."""
    report = step or (lambda _name: None)
    os.environ["HF_HUB_OFFLINE"] = "1"  # local directories only: the hub is never contacted
    if precision not in PRECISIONS:
        raise GenerationExportError(f"precision must be one of {list(PRECISIONS)}, got {precision!r}")
    source, out = Path(model_path), Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    report(f"build the onnxruntime-genai graph ({precision})")
    build_graph(source, out, precision)
    report("check the chat template and record the golden generation")
    tokenizer = _hf_tokenizer(source)
    spec = _spec(tokenizer, out, defaults or GenerationDefaults())
    agreement = None
    if precision == "fp32":
        report("compare greedy output with transformers")
        agreement = _check_torch_parity(source, spec.golden)
    metadata = ModelMetadata(
        model_type=model_type, version=version, labels=[], framework="onnxruntime-genai",
        task=TEXT_GENERATION, generation=spec.to_dict(), metrics=_source_metrics(source),
        export={"source": "huggingface-causal-lm", "builder": f"onnxruntime-genai {BUILDER_VERSION}",
                "precision": precision, "torch_greedy_equal": agreement},
    )  # fmt: skip
    metadata.save(out)
    return GenerationExport(onnx_path=out / "model.onnx", metadata=metadata)


def _source_metrics(source: Path) -> dict[str, float]:
    """The source directory's held-out figures (metrics.json, optional) for metadata.json `metrics`."""
    from modelops.sources import SourceError, read_metrics

    try:
        return read_metrics(source / "metrics.json")
    except SourceError as error:
        raise GenerationExportError(str(error)) from error


def build_graph(source: Path, out: Path, precision: str) -> None:
    """Run the onnxruntime-genai model builder (offline, quiet) into `out`."""
    from onnxruntime_genai.models.builder import create_model

    extra = {"int4_accuracy_level": "4"} if precision == "int4" else {}
    with (
        tempfile.TemporaryDirectory(prefix="modelops-genai-") as cache,
        contextlib.redirect_stdout(io.StringIO()),
    ):
        try:
            create_model(None, str(source), str(out), precision, "cpu", cache, **extra)
        except Exception as error:  # the builder raises NotImplementedError, KeyError, ... for odd models
            raise GenerationExportError(
                f"onnxruntime-genai builder failed: {type(error).__name__}: {error}"
            ) from error


def _hf_tokenizer(source: Path) -> Any:
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(source), local_files_only=True)  # type: ignore[no-untyped-call]
    if not getattr(tokenizer, "chat_template", None):
        raise GenerationExportError(f"{source} has no chat template (tokenizer_config.json chat_template)")
    return tokenizer


def _spec(tokenizer: Any, out: Path, defaults: GenerationDefaults) -> GenerationSpec:
    config = json.loads((out / GENAI_CONFIG).read_text(encoding="utf-8"))["model"]
    special = {k: str(getattr(tokenizer, k)) for k in SPECIAL_TOKEN_KEYS if getattr(tokenizer, k, None)}
    messages = [dict(m) for m in GOLDEN_MESSAGES]
    prompt_ids = prompt_token_ids(tokenizer.chat_template, messages, special, out)
    expected = list(tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=True))
    if prompt_ids != expected:
        raise GenerationExportError(
            f"the rendered chat template gives token ids {prompt_ids[:20]}..., "
            f"transformers' apply_chat_template gives {expected[:20]}..."
        )
    eos = config["eos_token_id"]
    eos_ids = [int(e) for e in (eos if isinstance(eos, list) else [eos])]
    answer = greedy_token_ids(out, prompt_ids, GOLDEN_NEW_TOKENS)
    golden = GenerationGolden(
        messages, prompt_ids, answer, tokenizer.decode(answer, skip_special_tokens=True)
    )
    return GenerationSpec(
        chat_template=tokenizer.chat_template, eos_token_ids=eos_ids,
        context_length=int(config["context_length"]), vocab_size=int(config["vocab_size"]),
        golden=golden, special_tokens=special, defaults=defaults,
    )  # fmt: skip


def prompt_token_ids(
    template: str, messages: Sequence[dict[str, str]], special: dict[str, str], model_dir: Path
) -> list[int]:
    """Render the chat template and tokenize it with the directory's tokenizer.json (no added tokens)."""
    from tokenizers import Tokenizer

    text = render_prompt(template, messages, special)
    return list(
        Tokenizer.from_file(str(model_dir / "tokenizer.json")).encode(text, add_special_tokens=False).ids
    )


def greedy_token_ids(model_dir: Path, prompt_ids: Sequence[int], max_new_tokens: int) -> list[int]:
    """Greedy decoding with the exported graph (the same engine the server runs)."""
    import onnxruntime_genai as og

    return greedy_decode(og.Model(str(model_dir)), prompt_ids, max_new_tokens)


def greedy_decode(model: Any, prompt_ids: Sequence[int], max_new_tokens: int) -> list[int]:
    """Greedy token ids of a loaded `onnxruntime_genai.Model` after `prompt_ids`, at most `max_new_tokens`,
    through the end-of-sequence token when it comes (the persona's held-out evaluation reuses one model)."""
    import onnxruntime_genai as og

    params = og.GeneratorParams(model)
    params.set_search_options(max_length=len(prompt_ids) + max_new_tokens, do_sample=False)
    generator = og.Generator(model, params)
    generator.append_tokens(list(prompt_ids))
    answer: list[int] = []
    while not generator.is_done() and len(answer) < max_new_tokens:
        generator.generate_next_token()
        answer.append(int(generator.get_next_tokens()[0]))
    return answer


def _check_torch_parity(source: Path, golden: GenerationGolden) -> bool:
    """fp32: transformers' greedy output must equal the graph's, token for token."""
    import torch
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(str(source), local_files_only=True, dtype=torch.float32)
    model.eval()  # type: ignore[no-untyped-call]
    prompt = torch.tensor([golden.prompt_token_ids])
    with torch.no_grad():
        out = model.generate(
            prompt,
            attention_mask=torch.ones_like(prompt),
            max_new_tokens=len(golden.token_ids),
            do_sample=False,
        )
    reference = [int(t) for t in out[0, len(golden.prompt_token_ids) :].tolist()]
    if reference != golden.token_ids[: len(reference)]:
        raise GenerationExportError(
            f"greedy output differs from transformers: ONNX {golden.token_ids}, torch {reference}"
        )
    return True
