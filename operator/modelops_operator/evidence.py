"""Per-environment evidence of a ModelVersion: when it became Available, analysis, failure, promotion.

`modelversion.plan_status` calls `plan_environments` on every ModelVersion reconcile; the result is
`status.environments`, which the promotion gates (`modelops.gates`) read. It is derived from the
ModelDeployments' status (servingVersion, servingSince, the Available condition, analysis,
failedVersions, stableVersion) and carried over from the previous status, so it survives operator
restarts and keeps an audit trail of where the version served and when.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from modelops.versions import InvalidVersionError, canonical
from modelops.vocabulary import ANALYSIS_FAILED, ANALYSIS_PASSED
from modelops_operator import conditions as c
from modelops_operator.analysis.stored import StoredAnalysis
from modelops_operator.draft import timestamp
from modelops_operator.spec import ModelVersionSpec, environment_of, model_of

Record = dict[str, Any]


def same_version(a: Any, b: Any) -> bool:
    """True when both are the same semantic version (`1.2.0` == `v1.2.0`)."""
    try:
        return canonical(str(a)) == canonical(str(b))
    except InvalidVersionError:
        return False


def plan_environments(
    mv: Mapping[str, Any], deployments: list[dict[str, Any]], now: datetime
) -> list[Record]:
    """The new `status.environments` of `mv` (pure), one record per environment it ever touched."""
    spec = ModelVersionSpec.of(mv)
    prior = {str(r.get("environment")): dict(r) for r in (mv.get("status") or {}).get("environments") or []}
    seen: set[str] = set()
    for md in deployments:
        if model_of(md) != spec.model:
            continue
        env = environment_of(md)
        seen.add(env)
        record = prior.get(env) or {"environment": env, "deployment": md["metadata"]["name"]}
        updated = _update(record, md, spec.version, timestamp(now))
        if _touched(updated):
            prior[env] = updated
    for env, record in prior.items():
        if env not in seen:
            prior[env] = _stopped(record, timestamp(now))
    return [prior[env] for env in sorted(prior)]


def read_from(md: Mapping[str, Any]) -> tuple[Any, ...]:
    """All that a ModelVersion's status (`plan_environments`, `modelversion.plan_status` and `in_use`)
    reads of one ModelDeployment: the watch index queues a ModelVersion again only when this changed,
    not for every status write of every ModelDeployment of its version (each one a LIST of them all)."""
    status = md.get("status") or {}
    analysis = StoredAnalysis.of(status)
    failed = [
        (f.get("version"), f.get("time"), f.get("cause"), f.get("reason"))
        for f in status.get("failedVersions") or []
    ]
    return (
        model_of(md),
        environment_of(md),
        status.get("servingVersion"),
        status.get("servingSince"),
        status.get("stableVersion"),
        c.is_true(status.get("conditions") or [], c.AVAILABLE),
        tuple(failed),
        analysis.version,
        analysis.phase,
    )


def _touched(record: Record) -> bool:
    keys = ("availableSince", "servedUntil", "failedAt", "analysisPassed", "promotedAt")
    return any(key in record for key in keys)


def _update(record: Record, md: Mapping[str, Any], version: str, now: str) -> Record:
    status = md.get("status") or {}
    record = {**record, "deployment": md["metadata"]["name"]}
    record = _serving(record, status, version, now)
    failed = next(
        (f for f in status.get("failedVersions") or [] if same_version(f.get("version"), version)), None
    )
    if failed is not None and failed.get("time") and failed.get("time") != record.get("failedAt"):
        record["failedAt"] = failed["time"]
        record["failure"] = f"{failed.get('cause', 'Failed')}: {failed.get('reason', '')}".strip(": ")
        if record.get("availableSince", "") <= failed["time"]:
            record = _stopped(record, failed["time"])
    analysis = StoredAnalysis.of(status)
    if same_version(analysis.version, version) and analysis.phase in (ANALYSIS_PASSED, ANALYSIS_FAILED):
        record["analysisPassed"] = analysis.phase == ANALYSIS_PASSED
    if same_version(status.get("stableVersion"), version) and "promotedAt" not in record:
        record["promotedAt"] = now
    return record


def _serving(record: Record, status: Mapping[str, Any], version: str, now: str) -> Record:
    available = c.is_true(status.get("conditions") or [], c.AVAILABLE)
    if available and same_version(status.get("servingVersion"), version):
        if "availableSince" in record:
            return record
        since = status.get("servingSince") or now
        fresh = {k: v for k, v in record.items() if k != "servedUntil"}
        return {**fresh, "availableSince": max(since, str(record.get("failedAt", "")))}
    return _stopped(record, now)


def _stopped(record: Record, when: str) -> Record:
    if "availableSince" not in record:
        return record
    fresh = {k: v for k, v in record.items() if k != "availableSince"}
    return {**fresh, "servedUntil": when}
