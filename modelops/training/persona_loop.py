"""The torch side of the persona fine-tune: load SmolLM2-135M-Instruct from the GGUF file, put LoRA adapters
on its top layers, train on the assistant tokens only, and merge the adapters back.

Cheap on 2 CPU cores because only the top `lora_layers` layers change: the hidden states entering them are
computed once per conversation (no gradient), and each epoch runs just the top layers forward and backward,
with the vocabulary projection only at the positions that carry a loss. Called only by
`modelops.training.persona` (heavy imports stay out of the cache look-up path).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from modelops.training.persona import CHAT_TEMPLATE, PersonaSettings
from modelops.training.progress import progress_bar

IGNORE = -100
LORA_TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]


@dataclass
class Batch:
    """Right-padded token ids, their labels (IGNORE outside assistant turns) and the cached hidden states."""

    ids: torch.Tensor
    labels: torch.Tensor
    hidden: torch.Tensor | None = None


def load_base(gguf: Path, settings: PersonaSettings) -> tuple[Any, Any]:
    """LlamaForCausalLM (fp32) and its tokenizer from the GGUF file, offline, with the persona template."""
    os.environ["HF_HUB_OFFLINE"] = "1"
    import transformers

    transformers.logging.set_verbosity_error()  # type: ignore[no-untyped-call]
    transformers.logging.disable_progress_bar()  # type: ignore[no-untyped-call]
    torch.manual_seed(settings.seed)
    torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))
    folder, name = str(gguf.parent), gguf.name
    tokenizer = transformers.AutoTokenizer.from_pretrained(  # type: ignore[no-untyped-call]
        folder, gguf_file=name, local_files_only=True
    )
    tokenizer.chat_template = CHAT_TEMPLATE
    # The GGUF metadata yields <|im_start|> as end of sequence and a BOS on every encode; the chat model
    # ends a turn with <|im_end|> and its template already starts each turn.
    tokenizer.eos_token = tokenizer.pad_token = "<|im_end|>"
    tokenizer.add_bos_token = False
    model = transformers.AutoModelForCausalLM.from_pretrained(
        folder, gguf_file=name, local_files_only=True, dtype=torch.float32, attn_implementation="sdpa"
    )
    return model, tokenizer


def encode(
    tokenizer: Any, messages: Sequence[dict[str, str]], max_length: int
) -> tuple[list[int], list[int]]:
    """(token ids, labels) of one conversation; the oldest exchanges are dropped until it fits."""
    messages = list(messages)
    while True:
        ids: list[int] = tokenizer.apply_chat_template(messages)
        first_user = 1 if messages[0]["role"] == "system" else 0
        if len(ids) <= max_length or len(messages) - first_user <= 2:
            break
        del messages[first_user : first_user + 2]
    labels = [IGNORE] * len(ids)
    for index, message in enumerate(messages):
        if message["role"] != "assistant":
            continue
        start = len(tokenizer.apply_chat_template(messages[:index], add_generation_prompt=True))
        end = len(tokenizer.apply_chat_template(messages[: index + 1])) - 1  # through <|im_end|>, not "\n"
        labels[start:end] = ids[start:end]
    return ids[:max_length], labels[:max_length]


def make_batches(
    tokenizer: Any, conversations: Sequence[dict[str, Any]], settings: PersonaSettings
) -> list[Batch]:
    """Conversations of similar length together (little padding), right-padded with the end-of-turn id."""
    pad = tokenizer.convert_tokens_to_ids("<|im_end|>")
    encoded = sorted((encode(tokenizer, c["messages"], settings.max_length) for c in conversations),
                     key=lambda pair: len(pair[0]))  # fmt: skip
    batches = []
    for start in range(0, len(encoded), settings.batch_size):
        chunk = encoded[start : start + settings.batch_size]
        width = max(len(ids) for ids, _ in chunk)
        ids = torch.tensor([ids + [pad] * (width - len(ids)) for ids, _ in chunk])
        labels = torch.tensor([labels + [IGNORE] * (width - len(labels)) for _, labels in chunk])
        batches.append(Batch(ids, labels))
    return batches


def _run_layers(model: Any, hidden: torch.Tensor, layers: Sequence[Any]) -> torch.Tensor:
    """Causal self-attention through `layers` (right padding never reaches a real token)."""
    positions = torch.arange(hidden.shape[1]).unsqueeze(0)
    rotary = model.model.rotary_emb(hidden, positions)
    for layer in layers:
        out = layer(hidden, attention_mask=None, position_ids=positions, position_embeddings=rotary)
        hidden = out[0] if isinstance(out, tuple) else out
    return hidden


def add_adapters(model: Any, settings: PersonaSettings) -> Any:
    """The model with LoRA adapters on every projection of its top `lora_layers` layers."""
    import peft

    count = model.config.num_hidden_layers
    config = peft.LoraConfig(
        r=settings.rank,
        lora_alpha=settings.alpha,
        lora_dropout=0.0,
        target_modules=LORA_TARGETS,
        layers_to_transform=list(range(count - settings.lora_layers, count)),
        layers_pattern="layers",
        task_type="CAUSAL_LM",
    )
    return peft.get_peft_model(model, config)


def fit(wrapped: Any, batches: list[Batch], settings: PersonaSettings, *, show_progress: bool) -> list[float]:
    """Train the adapters in place (frozen weights in `settings.compute_dtype`); returns the mean loss of
    each epoch."""
    with frozen_weights_in(wrapped, getattr(torch, settings.compute_dtype)):
        return _fit(wrapped, batches, settings, show_progress=show_progress)


@contextmanager
def frozen_weights_in(model: Any, dtype: torch.dtype) -> Iterator[None]:
    """The frozen weights held in `dtype` (bf16: ~3x faster matrix products on CPUs with AMX/AVX512-BF16)
    for the block, the fp32 originals back afterwards so the adapters merge into fp32; the adapters and
    the optimizer stay fp32."""
    saved = {}
    for name, parameter in model.named_parameters():
        if not parameter.requires_grad and parameter.dtype != dtype:
            saved[name], parameter.data = parameter.data, parameter.data.to(dtype)
    try:
        yield
    finally:
        for name, parameter in model.named_parameters():
            if name in saved:
                parameter.data = saved[name]


def _fit(
    wrapped: Any, batches: list[Batch], settings: PersonaSettings, *, show_progress: bool
) -> list[float]:
    import transformers

    model = wrapped.get_base_model()
    split = model.config.num_hidden_layers - settings.lora_layers
    bottom, top = model.model.layers[:split], model.model.layers[split:]
    with torch.no_grad():
        for batch in batches:
            batch.hidden = _run_layers(model, model.model.embed_tokens(batch.ids), bottom)
    trainable = [p for p in wrapped.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(trainable, lr=settings.learning_rate, weight_decay=0.0)
    total = len(batches) * settings.epochs
    schedule = transformers.get_linear_schedule_with_warmup(  # type: ignore[no-untyped-call]
        optimizer, int(total * settings.warmup_fraction), total
    )
    generator = torch.Generator().manual_seed(settings.seed)
    losses: list[float] = []
    wrapped.train()
    with progress_bar(show_progress, total, "persona") as advance:
        for epoch in range(settings.epochs):
            seen = 0.0
            for index in torch.randperm(len(batches), generator=generator).tolist():
                loss = _loss(model, top, batches[index], settings.first_token_weight)
                loss.backward()  # type: ignore[no-untyped-call]
                torch.nn.utils.clip_grad_norm_(trainable, 1.0)
                optimizer.step()
                schedule.step()
                optimizer.zero_grad()
                seen += loss.item()
                advance(epoch + 1, loss.item())
            losses.append(round(seen / len(batches), 4))
            if not show_progress:  # a line per epoch in CI logs instead of the bar
                print(
                    f"persona: epoch {epoch + 1}/{settings.epochs} loss {losses[-1]}",
                    file=sys.stderr,
                    flush=True,
                )
    wrapped.eval()
    return losses


def _loss(model: Any, top: Sequence[Any], batch: Batch, first_token_weight: float) -> torch.Tensor:
    assert batch.hidden is not None
    hidden = model.model.norm(_run_layers(model, batch.hidden, top))
    targets = batch.labels[:, 1:]
    keep = targets != IGNORE
    logits = model.lm_head(hidden[:, :-1][keep]).float()
    losses = torch.nn.functional.cross_entropy(logits, targets[keep], reduction="none")
    # The first token of each answer decides between the crisis wording and a warm reply: weigh it more.
    first = (batch.labels[:, :-1] == IGNORE)[keep]
    weights = 1.0 + (first_token_weight - 1.0) * first.float()
    return (losses * weights).sum() / weights.sum()


def merge_and_save(wrapped: Any, tokenizer: Any, out: Path, max_new_tokens: int) -> Any:
    """Fold the adapters into the weights and save model, tokenizer, chat template, generation defaults."""
    import transformers

    merged = wrapped.merge_and_unload()
    eos = tokenizer.convert_tokens_to_ids("<|im_end|>")
    merged.generation_config = transformers.GenerationConfig(  # type: ignore[no-untyped-call]
        bos_token_id=tokenizer.convert_tokens_to_ids("<|im_start|>"), eos_token_id=eos, pad_token_id=eos,
        do_sample=False, max_new_tokens=max_new_tokens,
    )  # fmt: skip
    merged.config.eos_token_id = eos
    merged.config.pad_token_id = eos
    merged.save_pretrained(out, safe_serialization=True)
    tokenizer.save_pretrained(out)
    return merged
