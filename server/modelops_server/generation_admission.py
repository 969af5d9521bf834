"""Admission priority: running generations pause between tokens while new requests are being set up.

onnxruntime-genai keeps the GIL while it decodes a token, so with several streams running the event loop
gets the GIL only between their tokens, and a new request (parsed, validated, rendered and tokenized on
the loop) waits a token of every running stream at each step of its set-up: its time to first token
grows with the number of streams. `generation_routes.py` and `grpc_generation.py` take an `Admission`
as soon as a generation request reaches the handler; `generation_plane.Generation` ends it once the
request's decoding has started (its first token) or it failed; while any admission is pending, the
decoding threads wait between tokens (`AdmissionGate.pause`, at most `ADMISSION_WAIT_S` per token, so
a stuck admission slows running streams but never stops them), leaving the GIL to the loop, and a new
generation waits as long before its prefill while other requests that came with it are being set up. A request
waiting in the queue for a slot is not being set up, so it does not count meanwhile.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

# The longest a decoding thread waits between two tokens for pending admissions (then it goes on).
ADMISSION_WAIT_S = 0.1


class AdmissionGate:
    """Counts the requests being admitted; decoding threads pause while there are any."""

    def __init__(self, wait_s: float = ADMISSION_WAIT_S) -> None:
        self.wait_s = wait_s
        self._changed = threading.Condition()
        self._pending = 0

    @property
    def pending(self) -> int:
        """How many admissions are pending now."""
        return self._pending

    def admit(self) -> Admission:
        """A request reached its handler: pending until `Admission.end`."""
        return Admission(self)

    def pause(self, own: Admission | None = None) -> bool:
        """Between two tokens (or before a prefill): wait while admissions other than `own` are pending,
        at most `wait_s`; True when none are (any more), False when the wait ran out."""
        with self._changed:
            return self._changed.wait_for(lambda: self._pending <= _holds(own), self.wait_s)

    def _add(self, count: int) -> None:
        with self._changed:
            self._pending += count
            if count < 0:
                self._changed.notify_all()


def _holds(admission: Admission | None) -> int:
    return 1 if admission is not None and admission.pending else 0


class Admission:
    """One request's admission; `end` it (idempotent) once its decoding started or it failed."""

    def __init__(self, gate: AdmissionGate) -> None:
        self.gate = gate
        self._lock = threading.Lock()
        self._pending = False
        self.resume()

    @property
    def pending(self) -> bool:
        """Whether this admission holds the gate now."""
        return self._pending

    def resume(self) -> None:
        """Count as pending (again): set-up work follows."""
        self._set(True)

    @contextmanager
    def waiting(self) -> Iterator[None]:
        """Not pending while the request waits on I/O (a slow body upload, the guardrail's classifier):
        running streams must not be held back by a client or a service that is slow."""
        was = self.pending
        self.end()
        try:
            yield
        finally:
            if was:
                self.resume()

    def end(self) -> None:
        """No longer pending: decoding started, the request failed, or it waits in the queue."""
        self._set(False)

    def _set(self, pending: bool) -> None:
        with self._lock:
            if self._pending == pending:
                return
            self._pending = pending
            self.gate._add(1 if pending else -1)
