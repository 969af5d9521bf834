"""Runs generations of a text-generation model: slots, queue, deadline, one thread per generation.

`generation_routes.py` calls `GenerationPlane.start` for every generate / chat-completions request. A
request gets one of `max_generations` slots or waits in a queue of at most `max_queued_generations`
(past that, and past its deadline, 429 with Retry-After). Its tokens are decoded in a thread of its own
(`TextGenerator.run`) and handed to the event loop through an asyncio queue, in chunks for a stream and
all at once otherwise (`generation_chunks`); `Generation.close` (the stream ended, or the client went
away) stops that thread at its next token and frees the slot at once. Records TTFT, inter-token latency
(in the decoding thread, `generation_chunks.TokenClock`), token counts and active / queued generations.
"""

from __future__ import annotations

import asyncio
import math
import threading
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

from modelops_server.errors import BadRequest, ServerError, TooManyRequests
from modelops_server.generation import Outcome, Sampling, TextGenerator
from modelops_server.generation_admission import Admission, AdmissionGate
from modelops_server.generation_chunks import Chunk, ChunkBuffer, TokenClock
from modelops_server.guardrail import Guardrail, Verdict
from modelops_server.logs import get_logger
from modelops_server.metrics import ServerMetrics
from modelops_server.settings import ServerSettings

LOG = get_logger("generation")
# onnxruntime-genai keeps the GIL while it decodes a token, so the event loop runs only between tokens.
# After handing a chunk over, the decoding thread waits (at most this long) until the loop has taken it,
# so the loop sends it now instead of one token later, and a request's set-up steps on the loop are not
# each held up for a whole token (time to first token); a loop that does not take it in time (busy with
# other streams, or a slow client) only costs this wait. Chunks (`--stream-chunk-ms`) make it rare.
HANDOFF_WAIT_S = 0.05


@dataclass(frozen=True)
class GenerationRequest:
    """A validated request: chat messages, decoding settings, streaming or not."""

    messages: list[dict[str, str]]
    sampling: Sampling
    stream: bool = False
    arrival: float = field(default_factory=time.monotonic)


@dataclass(frozen=True)
class Finished:
    """The end of a generation: the whole answer and the counts."""

    outcome: Outcome
    prompt_tokens: int
    guardrail: Verdict | None = None

    @property
    def usage(self) -> dict[str, int]:
        """OpenAI-style token counts."""
        completion = len(self.outcome.token_ids)
        return {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": completion,
            "total_tokens": self.prompt_tokens + completion,
        }


Item = Chunk | Finished | BaseException  # what the decoding thread hands to the loop


class Generation:
    """One running generation; iterate `events()` once, and always `close()` it."""

    def __init__(
        self,
        plane: GenerationPlane,
        prompt: list[int],
        request: GenerationRequest,
        verdict: Verdict | None = None,
        admission: Admission | None = None,
    ) -> None:
        self.plane = plane
        self.admission = admission or plane.gate.admit()
        self.prompt = prompt
        self.request = request
        self.verdict = verdict
        self.cancelled = threading.Event()
        self.taken = threading.Event()  # the loop took the last chunk handed over (see HANDOFF_WAIT_S)
        self.queue: asyncio.Queue[Item] = asyncio.Queue()
        self._closed = False
        self._holds_slot = True

    @classmethod
    def canned(
        cls,
        plane: GenerationPlane,
        prompt: list[int],
        request: GenerationRequest,
        verdict: Verdict,
        admission: Admission | None = None,
    ) -> Generation:
        """The crisis response as a finished generation that holds no slot."""
        generation = cls(plane, prompt, request, verdict, admission)
        generation._holds_slot = False
        generation.admission.end()
        text = plane.settings.crisis_response
        generation.queue.put_nowait(Chunk(text, []))
        generation.queue.put_nowait(Finished(Outcome([], text, "guardrail"), len(prompt), verdict))
        return generation

    def begin(self, model: TextGenerator, deadline: float) -> None:
        """Start the decoding thread; it puts Chunks (streams only), then a Finished (or the error), on
        the queue."""
        hand_over = self._hand_over(asyncio.get_running_loop())
        clock = TokenClock(self.plane.metrics, self.request.arrival)
        chunks = ChunkBuffer(self._waiting(hand_over), self.plane.settings.stream_chunk_ms / 1000)

        def emit(ids: list[int], text: str) -> None:
            clock.tick()
            self.admission.end()  # decoding started: no longer holds the other streams back
            if self.request.stream:
                chunks.push(ids, text)
            self.plane.gate.pause()  # let the loop set up pending requests (generation_admission)

        def work() -> None:
            try:
                self.plane.gate.pause(self.admission)  # the requests arriving with it are set up first
                outcome = model.run(self.prompt, self.request.sampling, emit, self.cancelled, deadline)
            except BaseException as error:  # reported to the request, never lost in the thread
                hand_over(error)
                return
            finally:
                self.admission.end()
            rest = chunks.take()
            if rest is not None:  # the last chunk and the end go together: no wait in between
                hand_over(rest)
            self._count(outcome)
            hand_over(Finished(outcome, len(self.prompt), self.verdict))

        threading.Thread(target=work, name="generation", daemon=True).start()

    def _hand_over(self, loop: asyncio.AbstractEventLoop) -> Callable[[Item], None]:
        """Put an item on the queue from the decoding thread."""

        def hand_over(item: Item) -> None:
            try:
                loop.call_soon_threadsafe(self.queue.put_nowait, item)
            except RuntimeError:  # the loop is closed: the server is shutting down
                self.cancelled.set()

        return hand_over

    def _waiting(self, hand_over: Callable[[Chunk], None]) -> Callable[[Chunk], None]:
        """Hand a chunk over and wait until the loop took it (see HANDOFF_WAIT_S)."""

        def handed(chunk: Chunk) -> None:
            self.taken.clear()
            hand_over(chunk)
            self.taken.wait(HANDOFF_WAIT_S)

        return handed

    def _count(self, outcome: Outcome) -> None:
        metrics = self.plane.metrics
        metrics.completion_tokens.inc(len(outcome.token_ids))
        metrics.generations.labels(outcome.finish_reason).inc()

    async def events(self) -> AsyncIterator[Chunk | Finished]:
        """Chunks as they come (streams), then one Finished."""
        try:
            while True:
                self.taken.set()  # the consumer is back for more: the last chunk is sent
                item = await self.queue.get()
                if isinstance(item, BaseException):
                    raise (
                        item if isinstance(item, ServerError) else ServerError(f"generation failed: {item!r}")
                    )
                yield item
                if isinstance(item, Finished):
                    return
        finally:
            self.close()

    async def collect(self) -> tuple[str, Finished]:
        """The whole answer (non-streaming requests)."""
        async for item in self.events():
            if isinstance(item, Finished):
                return item.outcome.text, item
        raise ServerError("generation ended without a result")

    def close(self) -> None:
        """Stop the thread at its next token and free the slot (idempotent)."""
        if self._closed:
            return
        self._closed = True
        self.cancelled.set()
        self.taken.set()
        self.admission.end()
        if self._holds_slot:
            self.plane.release()


class GenerationPlane:
    """Slots and queue for the generations of one model."""

    def __init__(self, settings: ServerSettings, metrics: ServerMetrics, model: Callable[[], TextGenerator]):
        self.settings = settings
        self.metrics = metrics
        self.model = model
        self.active = 0
        self.queued = 0
        self._slots: asyncio.Semaphore | None = None
        self.gate = AdmissionGate()
        self.guardrail = Guardrail(settings, metrics)

    def prompt_ids(self, model: TextGenerator, request: GenerationRequest) -> list[int]:
        """Render and tokenize; 400 when the prompt is longer than the limit or the context."""
        prompt = model.prompt_ids(request.messages)
        limit = min(self.settings.max_prompt_tokens, model.spec.context_length - 1)
        if len(prompt) > limit:
            raise BadRequest(f"'messages' is {len(prompt)} tokens long; the limit is {limit} tokens")
        return prompt

    async def start(self, request: GenerationRequest, admission: Admission | None = None) -> Generation:
        """Validate the prompt, wait for a slot (or 429), and start decoding; `admission` (taken when the
        request reached its handler, else now) ends once decoding started or on an error."""
        admission = admission or self.gate.admit()
        try:
            return await self._start(request, admission)
        except BaseException:
            admission.end()
            raise

    async def _start(self, request: GenerationRequest, admission: Admission) -> Generation:
        model = self.model()
        prompt = self.prompt_ids(model, request)
        with admission.waiting():
            verdict = await self.guardrail.check(request.messages)
        if verdict is not None and verdict.blocked:
            return Generation.canned(self, prompt, request, verdict, admission)
        deadline = request.arrival + self.settings.generation_deadline_s
        await self._acquire(deadline, admission)
        generation = Generation(self, prompt, request, verdict, admission)
        self.metrics.prompt_tokens.inc(len(prompt))
        try:
            generation.begin(model, deadline)
        except BaseException:
            generation.close()
            raise
        return generation

    async def _acquire(self, deadline: float, admission: Admission) -> None:
        if self._slots is None:
            self._slots = asyncio.Semaphore(self.settings.max_generations)
        if self._slots.locked():
            if self.queued >= self.settings.max_queued_generations:
                raise TooManyRequests(
                    f"all {self.settings.max_generations} generation slots are busy and "
                    f"{self.queued} requests are queued; retry later",
                    retry_after=self._retry_after(),
                )
            admission.end()  # waiting in the queue is not set-up work: running streams go on
            await self._wait(self._slots, deadline)
            admission.resume()
        else:
            await self._slots.acquire()
        self.active += 1
        self.metrics.generations_active.set(self.active)

    async def _wait(self, slots: asyncio.Semaphore, deadline: float) -> None:
        self.queued += 1
        self.metrics.generations_queued.set(self.queued)
        try:
            await asyncio.wait_for(slots.acquire(), timeout=max(0.0, deadline - time.monotonic()))
        except TimeoutError as error:
            raise TooManyRequests(
                "no generation slot became free before the request's deadline",
                retry_after=self._retry_after(),
            ) from error
        finally:
            self.queued -= 1
            self.metrics.generations_queued.set(self.queued)

    def _retry_after(self) -> int:
        return max(1, math.ceil(min(self.settings.generation_deadline_s, 30.0) / 4))

    def release(self) -> None:
        """A generation ended or was closed: its slot is free now."""
        if self._slots is not None:
            self._slots.release()
        self.active -= 1
        self.metrics.generations_active.set(self.active)
