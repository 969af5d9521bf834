"""The typed view of `ModelDeployment.status.analysis` as stored: decoded once per reconcile.

`state.Observed` decodes it from the object it read (`Observed.analysis`); `observe` hands it to
`hooks.collect`, `reconcile.plan` starts its `Draft` with it and keeps it in step with every write
(`Draft.set_analysis` writes its `to_status()`); `promotion`, `canary`, `requeue`, `evidence` and
`hooks.judge` read its fields, never the raw dict. The defaults for a missing or partial object live
here. The JSON itself is kept unchanged in `raw`, so what is written back to the apiserver is the same
object, key for key; `progress.AnalysisProgress.from_status` decodes the full window state only where a
step runs.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from .decision import Phase

UNFINISHED = frozenset({Phase.PENDING, Phase.RUNNING})


@dataclass(frozen=True)
class StoredAnalysis:
    """`status.analysis`: which version it judges, its phase and message, how often it samples."""

    raw: Mapping[str, Any] | None = None  # the stored JSON, written back as it is; None: no analysis
    version: str | None = None
    phase: str | None = None
    message: str = ""
    interval_seconds: float | None = None

    @classmethod
    def of(cls, status: Mapping[str, Any] | None) -> StoredAnalysis:
        """Decode `status.analysis` (absent, empty or not an object: no analysis)."""
        raw = (status or {}).get("analysis")
        return cls.from_json(raw) if isinstance(raw, Mapping) and raw else cls()

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> StoredAnalysis:
        """Decode one `status.analysis` object; a missing field takes its default."""
        thresholds = raw.get("thresholds")
        interval = thresholds.get("intervalSeconds") if isinstance(thresholds, Mapping) else None
        return cls(
            raw=raw,
            version=raw.get("version"),
            phase=raw.get("phase"),
            message=str(raw.get("message", "")),
            interval_seconds=float(interval) if interval else None,
        )

    def to_status(self) -> dict[str, Any] | None:
        """The `status.analysis` object to write (a copy of the stored one); None when there is none."""
        return None if self.raw is None else dict(self.raw)

    @property
    def present(self) -> bool:
        return self.raw is not None

    @property
    def unfinished(self) -> bool:
        """Pending or Running: samples are still due."""
        return self.phase in UNFINISHED

    def of_version(self, version: str | None) -> bool:
        """True when this is an analysis of `version`."""
        return self.present and self.version == version

    def unfinished_of(self, version: str) -> bool:
        """A Pending or Running analysis of `version`: dropped when `version` fails otherwise (probes,
        deadline): it would show Pending for a failed version, and a retry must measure afresh."""
        return self.of_version(version) and self.unfinished

    def held_of(self, version: str) -> bool:
        """An analysis of `version` that ended Inconclusive (held, under `inconclusive: Hold`)."""
        return self.of_version(version) and self.phase == Phase.INCONCLUSIVE

    def resumable(self, failed_versions: Iterable[Mapping[str, Any]]) -> StoredAnalysis:
        """This analysis to resume from; none (start afresh) for a Failed one whose version was retried.

        A Failed verdict is written together with its `failedVersions` entry; when that entry is gone,
        the user asked for a retry (modelops.io/retry), so the old verdict must not fail it again.
        """
        if self.phase != Phase.FAILED:
            return self
        failed = {entry.get("version") for entry in failed_versions}
        return self if self.version in failed else StoredAnalysis()
