"""The init container's progress log line: one `fetch_progress` event a second while an artifact downloads.

Passed by `loader.fetch` to the object-store transfer, so a slow download is visible in `kubectl logs`.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from modelops_server.logs import get_logger, log_event

LOG = get_logger("fetch")


def log_progress(src: str) -> Callable[[int, int], None]:
    """A callback (done bytes, total bytes) that logs bytes, percent and MB/s since the first call."""
    started = time.monotonic()

    def report(done: int, total: int) -> None:
        elapsed = max(time.monotonic() - started, 1e-6)
        percent = round(100.0 * done / total, 1) if total else 100.0
        log_event(
            LOG, "fetch_progress", src=src, bytes=done, total_bytes=total, percent=percent,
            mb_per_s=round(done / elapsed / 1e6, 1),
        )  # fmt: skip

    return report
