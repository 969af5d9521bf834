"""The training progress bar (phase, step, loss) shown on a terminal and silent otherwise (CI, pipes).

Used by the classifier fine-tune loop (`modelops.training.finetune_loop`) and the persona fine-tune
(`modelops.training.persona_loop`).
"""

from __future__ import annotations

from typing import Any


class progress_bar:
    """`with progress_bar(show, total, label) as advance: advance(epoch, loss)` once per step."""

    def __init__(self, show: bool, total: int, label: str) -> None:
        self.show, self.total, self.label = show, total, label
        self.bar: Any = None
        self.task: Any = None

    def __enter__(self) -> Any:
        if self.show:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

            self.bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                TimeElapsedColumn())  # fmt: skip
            self.bar.start()
            self.task = self.bar.add_task(self.label, total=self.total)
        return self._advance

    def _advance(self, epoch: int, loss: float) -> None:
        if self.bar is not None:
            self.bar.update(self.task, advance=1, description=f"{self.label} epoch {epoch} loss {loss:.3f}")

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.stop()
