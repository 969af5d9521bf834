"""Progress lines with elapsed seconds, because a cold build or start takes minutes.

Every step of `hack/localkube` reports through `say` so a user sees what is happening and for how long.
"""

from __future__ import annotations

import sys
import time

_START = time.monotonic()


def elapsed() -> float:
    """Seconds since this process imported the module (i.e. since the command started)."""
    return time.monotonic() - _START


def say(message: str) -> None:
    """Print one progress line to stderr (stdout is kept for `env`'s shell output)."""
    print(f"[localkube {elapsed():6.1f}s] {message}", file=sys.stderr, flush=True)
