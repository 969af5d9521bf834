"""How a decoding thread's tokens reach the event loop: in chunks, and timed where they are decoded.

`generation_plane.Generation.begin` wraps `TextGenerator.run`'s emit callback with these. onnxruntime-genai
keeps the GIL while it decodes a token, so the event loop only runs between tokens, and every hand-over
costs two thread wake-ups (the loop, then the decoding thread again) plus an SSE event to build, send and
parse: ~1.5 ms of CPU per token more than the same loop in process (bench/bench_generation.py). So a
stream gets its first piece of text at once (time to first token), then whatever was decoded since, at
most every `--stream-chunk-ms`; the rest goes with the end.
A request that does not stream hands nothing over until its answer is complete.

`TokenClock` records time to first token and inter-token latency in the decoding thread, as each piece
of text is decoded, so the histograms mean the same whether a request streams or not and however its
tokens are grouped into chunks.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from modelops_server.metrics import ServerMetrics


@dataclass(frozen=True)
class Chunk:
    """New printable text and the token ids that produced it."""

    text: str
    token_ids: list[int]


class ChunkBuffer:
    """Collects a decoding thread's pieces of text; hands them over as one Chunk when it is the first, or
    when `interval_s` has passed since the last hand-over; `flush` hands over the rest."""

    def __init__(
        self,
        hand_over: Callable[[Chunk], None],
        interval_s: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.hand_over = hand_over
        self.interval_s = interval_s
        self.clock = clock
        self.ids: list[int] = []
        self.texts: list[str] = []
        self.last: float | None = None  # when the last chunk was handed over; None before the first

    def push(self, ids: list[int], text: str) -> None:
        """Add one piece; hand the chunk over if it is due."""
        self.ids.extend(ids)
        self.texts.append(text)
        now = self.clock()
        if self.last is None or now - self.last >= self.interval_s:
            self.last = now
            self.flush()

    def flush(self) -> None:
        """Hand over whatever was collected (nothing if empty)."""
        chunk = self.take()
        if chunk is not None:
            self.hand_over(chunk)

    def take(self) -> Chunk | None:
        """Whatever was collected as one Chunk, emptying the buffer; None if empty."""
        if not self.ids and not self.texts:
            return None
        chunk = Chunk("".join(self.texts), self.ids)
        self.ids, self.texts = [], []
        return chunk


class TokenClock:
    """Time to first token (from the request's arrival) and the time between successive pieces of text of
    one generation, observed as they are decoded. A piece is one token, except where one character takes
    several tokens (they are held back until it is complete and count as one)."""

    def __init__(
        self, metrics: ServerMetrics, arrival: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.metrics = metrics
        self.clock = clock
        self.last: float | None = None
        self.arrival = arrival

    def tick(self) -> None:
        """One piece of text was decoded now."""
        now = self.clock()
        if self.last is None:
            self.metrics.time_to_first_token.observe(now - self.arrival)
        else:
            self.metrics.inter_token_latency.observe(now - self.last)
        self.last = now
