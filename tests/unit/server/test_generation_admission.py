"""Admission priority (`generation_admission`): decoding threads pause between tokens while a request is
being admitted, resume as soon as none is, never wait longer than the gate's bound; and every way a
generation request ends (answered, streamed, refused with 400 or 429) ends its admission on the real
server with the tiny Llama, so running streams are never held back by a request that is gone.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import httpx
import orjson

from modelops_server.app import create_app
from modelops_server.generation_admission import AdmissionGate
from modelops_server.generation_plane import GenerationPlane
from modelops_server.settings import ServerSettings
from support.persona import PERSONA, VERSION, PersonaModels

GENERATE = f"/api/v1/ml-models/{PERSONA}/generate"
CHAT = "/v1/chat/completions"
MESSAGES = [{"role": "user", "content": "Hello"}]
LONG_WAIT_S = 60.0  # a pause bound no test run reaches: only the admission ending can end the wait


def test_a_decoder_waits_while_an_admission_is_pending_and_resumes_when_it_ends() -> None:
    gate = AdmissionGate(wait_s=LONG_WAIT_S)
    admission = gate.admit()
    entered = threading.Event()
    resumed: list[bool] = []

    def decoder() -> None:
        entered.set()
        resumed.append(gate.pause())

    thread = threading.Thread(target=decoder)
    thread.start()
    assert entered.wait(10), "the decoding thread did not start"
    assert gate.pending == 1 and not resumed  # still held: the admission has not ended
    admission.end()
    thread.join(10)
    assert not thread.is_alive(), "the decoder did not resume after the admission ended"
    assert resumed == [True] and gate.pending == 0


def test_the_wait_is_bounded_and_the_decoder_goes_on() -> None:
    gate = AdmissionGate(wait_s=0.001)
    admission = gate.admit()
    assert gate.pause() is False  # the bound ran out with the admission still pending
    assert admission.pending and gate.pending == 1


def test_no_admission_means_no_wait_and_ends_are_idempotent() -> None:
    gate = AdmissionGate(wait_s=LONG_WAIT_S)
    assert gate.pause() is True
    first, second = gate.admit(), gate.admit()
    first.end()
    first.end()
    assert gate.pending == 1  # the second one still holds the gate
    second.end()
    second.resume()  # queued, then set up again
    assert gate.pending == 1
    second.end()
    assert gate.pending == 0 and gate.pause() is True


def test_a_new_generation_waits_only_for_the_other_admissions() -> None:
    gate = AdmissionGate(wait_s=LONG_WAIT_S)
    own = gate.admit()
    assert gate.pause(own) is True  # its own admission does not hold it back
    other = gate.admit()
    entered = threading.Event()
    resumed: list[bool] = []

    def prefill() -> None:
        entered.set()
        resumed.append(gate.pause(own))

    thread = threading.Thread(target=prefill)
    thread.start()
    assert entered.wait(10), "the decoding thread did not start"
    assert not resumed  # held by the other request being set up
    other.end()
    thread.join(10)
    assert not thread.is_alive(), "the prefill did not start after the other admission ended"
    assert resumed == [True] and gate.pending == 1  # its own admission ends with its first token


def _settings(persona: PersonaModels, **overrides: object) -> ServerSettings:
    values: dict[str, object] = {
        "models_dir": persona.root, "model_type": PERSONA, "version": VERSION,
        "work_dir": persona.root.parent / "work", "public_key": persona.public_key,
        "require_signature": True, **overrides,
    }  # fmt: skip
    return ServerSettings(**values)  # type: ignore[arg-type]


@asynccontextmanager
async def _plane(settings: ServerSettings) -> AsyncIterator[tuple[httpx.AsyncClient, GenerationPlane]]:
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        await app.state.dataplane.wait_loaded()
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://server", timeout=30) as client:
            yield client, app.state.dataplane.generation


async def _until(check: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + 30
    while not check():
        assert time.monotonic() < deadline, f"not within 30 s: {what}"
        await asyncio.sleep(0.01)


async def test_every_request_ends_its_admission(persona: PersonaModels) -> None:
    settings = _settings(persona, max_generations=1, max_queued_generations=0, max_new_tokens=30000)
    async with _plane(settings) as (client, plane):
        answered = await client.post(GENERATE, json={"messages": MESSAGES, "max_new_tokens": 4})
        assert answered.status_code == 200, answered.text
        await _until(lambda: plane.active == 0, "the answered generation frees its slot")
        streamed = await client.post(CHAT, json={"messages": MESSAGES, "max_tokens": 4, "stream": True})
        assert streamed.status_code == 200 and "[DONE]" in streamed.text
        await _until(lambda: plane.active == 0, "the streamed generation frees its slot")
        invalid = await client.post(GENERATE, json={"messages": MESSAGES, "max_new_tokens": -1})
        assert invalid.status_code == 400, invalid.text
        assert plane.gate.pending == 0
        long = {"messages": MESSAGES, "max_new_tokens": 30000, "min_new_tokens": 30000}
        running = asyncio.create_task(client.post(GENERATE, json=long))
        await _until(lambda: plane.active == 1 and plane.gate.pending == 0, "the long generation decodes")
        refused = await client.post(CHAT, json={"messages": MESSAGES, "max_tokens": 4})
        assert refused.status_code == 429, refused.text
        assert plane.gate.pending == 0
        running.cancel()  # the client goes away: the generation closes
        await _until(lambda: plane.active == 0, "the cancelled generation frees its slot")
    assert plane.gate.pending == 0


def test_waiting_on_io_does_not_hold_the_gate() -> None:
    gate = AdmissionGate(wait_s=5)
    admission = gate.admit()
    with admission.waiting():
        assert gate.pending == 0 and gate.pause(), "an admission waiting on I/O held the decoders back"
    assert gate.pending == 1, "set-up work after the I/O counts again"
    admission.end()
    with admission.waiting():
        pass
    assert gate.pending == 0, "an ended admission came back after the I/O"


async def test_a_slow_upload_does_not_hold_running_streams_back(persona: PersonaModels) -> None:
    settings = _settings(persona, max_generations=2, max_new_tokens=30000)
    uploading, rest = asyncio.Event(), asyncio.Event()

    async def slow_body() -> AsyncIterator[bytes]:
        body = orjson.dumps({"messages": MESSAGES, "max_new_tokens": 2})
        yield body[:5]
        uploading.set()
        await rest.wait()  # the client sends the rest only when the test says so
        yield body[5:]

    async with _plane(settings) as (client, plane):
        sent = asyncio.create_task(client.post(GENERATE, content=slow_body()))
        await asyncio.wait_for(uploading.wait(), 30)
        await _until(lambda: plane.gate.pending == 0, "the gate is free while the body is uploaded")
        rest.set()
        answered = await sent
        assert answered.status_code == 200, answered.text
    assert plane.gate.pending == 0
