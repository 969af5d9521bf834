"""A BERT-style WordPiece tokenizer for the example datasets, built with the `tokenizers` library.

The vocabulary is picked here rather than by `tokenizers`' WordPieceTrainer because that trainer breaks
ties between equally frequent merges differently from run to run, and a model must be reproducible
from its data and seed. The vocabulary: special tokens, every character seen (as a word start and as a
`##` continuation, so no word is ever [UNK]-only), then whole words by falling frequency, ties by
spelling, skipping words seen only once. The training loop builds it; its JSON (`tokenizer.json`)
travels in the checkpoint and the model directory so the export step and the inference server
tokenize exactly as training did.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors

PAD, UNK, CLS, SEP = "[PAD]", "[UNK]", "[CLS]", "[SEP]"
SPECIAL_TOKENS = [PAD, UNK, CLS, SEP]
# Words seen once are spelled out in pieces during training too, so the model learns what to make of
# pieces; otherwise every unseen word at prediction time is made of embeddings training never touched.
MIN_WORD_FREQUENCY = 2


def _normalizer() -> Any:
    return normalizers.BertNormalizer(lowercase=True)


def _pre_tokenizer() -> Any:
    return pre_tokenizers.BertPreTokenizer()


def word_counts(texts: Sequence[str]) -> Counter[str]:
    """How often each pre-token (word or punctuation mark) occurs after BERT normalisation."""
    normalizer, splitter = _normalizer(), _pre_tokenizer()
    counts: Counter[str] = Counter()
    for text in texts:
        words = splitter.pre_tokenize_str(normalizer.normalize_str(text))
        counts.update(word for word, _span in words)
    return counts


def pick_vocabulary(
    counts: Counter[str], vocab_size: int, min_frequency: int = MIN_WORD_FREQUENCY
) -> dict[str, int]:
    """Specials, characters, then words seen at least min_frequency times, most frequent first (ties by
    spelling), up to vocab_size."""
    characters = sorted({char for word in counts for char in word})
    tokens = SPECIAL_TOKENS + characters + [f"##{char}" for char in characters]
    frequent = (word for word in counts if len(word) > 1 and counts[word] >= min_frequency)
    ranked = sorted(frequent, key=lambda w: (-counts[w], w))
    tokens += ranked[: max(0, vocab_size - len(tokens))]
    return {token: index for index, token in enumerate(tokens)}


def train_wordpiece(texts: Sequence[str], vocab_size: int, max_length: int) -> Tokenizer:
    """A lower-casing WordPiece tokenizer whose vocabulary depends only on `texts` and vocab_size."""
    vocabulary = pick_vocabulary(word_counts(texts), vocab_size)
    tokenizer = Tokenizer(models.WordPiece(vocab=vocabulary, unk_token=UNK, max_input_chars_per_word=100))
    tokenizer.normalizer = _normalizer()
    tokenizer.pre_tokenizer = _pre_tokenizer()
    tokenizer.decoder = decoders.WordPiece()
    return configure(tokenizer, max_length)


def configure(tokenizer: Tokenizer, max_length: int) -> Tokenizer:
    """Add [CLS]/[SEP], padding to the longest row and truncation."""
    cls_id, sep_id = tokenizer.token_to_id(CLS), tokenizer.token_to_id(SEP)
    tokenizer.post_processor = processors.TemplateProcessing(
        single=f"{CLS} $A {SEP}", special_tokens=[(CLS, cls_id), (SEP, sep_id)]
    )
    tokenizer.enable_truncation(max_length=max_length)
    tokenizer.enable_padding(pad_id=tokenizer.token_to_id(PAD), pad_token=PAD)
    return tokenizer


def encode(tokenizer: Tokenizer, texts: Sequence[str]) -> tuple[list[list[int]], list[list[int]]]:
    """Token ids and attention masks for a batch, padded to its longest row."""
    encodings: list[Any] = tokenizer.encode_batch(list(texts))
    return [e.ids for e in encodings], [e.attention_mask for e in encodings]
