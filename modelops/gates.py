"""Promotion gates: may a version be rolled out to an environment, given what it proved elsewhere?

A ModelDeployment's `spec.promotion` names the environments a version must have served first
(`requires: [{environment, healthyForSeconds, analysisPassed}]`) and the metric floors it must meet
(`minMetrics: {recall: 0.95}`). The evidence is what the operator recorded in the ModelVersion's
`status.environments` (when it became Available there, whether its analysis passed, when it failed).

Pure and shared: the operator's reconcile calls `evaluate` before a rollout (blocked → the stable
version keeps serving, requeue at `opens_at`), and `modelctl checklist` / `promote` and
`ModelRegistry.deploy_model` call the same function so that every caller explains a closed gate in
the same words.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from modelops.versions import InvalidVersionError, canonical

OVERRIDE_ANNOTATION = "modelops.io/override-gates"
OVERRIDE_REASON_ANNOTATION = "modelops.io/override-reason"


@dataclass(frozen=True)
class Requirement:
    """One environment the version must have served in before it may go further."""

    environment: str
    healthy_for_seconds: int = 0
    analysis_passed: bool = False


@dataclass(frozen=True)
class PromotionPolicy:
    """`spec.promotion` of a ModelDeployment."""

    requires: tuple[Requirement, ...] = ()
    min_metrics: tuple[tuple[str, float], ...] = ()

    @classmethod
    def from_spec(cls, spec: Mapping[str, Any] | None) -> PromotionPolicy | None:
        """The policy of `spec.promotion`; None when the field is absent (no gate)."""
        if spec is None:
            return None
        requires = tuple(
            Requirement(
                environment=str(item["environment"]),
                healthy_for_seconds=int(item.get("healthyForSeconds", 0) or 0),
                analysis_passed=bool(item.get("analysisPassed", False)),
            )
            for item in spec.get("requires") or []
        )
        floors = tuple(sorted((str(k), float(v)) for k, v in (spec.get("minMetrics") or {}).items()))
        return cls(requires=requires, min_metrics=floors)


@dataclass(frozen=True)
class Evidence:
    """What a version did in one environment, as recorded in `ModelVersion.status.environments[]`."""

    environment: str
    available_since: datetime | None = None
    served_until: datetime | None = None
    analysis_passed: bool | None = None
    failed_at: datetime | None = None
    failure: str = ""

    @property
    def failed_last(self) -> bool:
        """True when it failed there and has not become Available again since."""
        if self.failed_at is None:
            return False
        return self.available_since is None or self.failed_at >= self.available_since

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> Evidence:
        """Parse one status record (times are RFC 3339 strings)."""
        passed = record.get("analysisPassed")
        return cls(
            environment=str(record.get("environment", "")),
            available_since=parse_time(record.get("availableSince")),
            served_until=parse_time(record.get("servedUntil")),
            analysis_passed=None if passed is None else bool(passed),
            failed_at=parse_time(record.get("failedAt")),
            failure=str(record.get("failure") or ""),
        )


def evidence_from_status(status: Mapping[str, Any] | None) -> dict[str, Evidence]:
    """The per-environment evidence of a ModelVersion's status, keyed by environment."""
    records = (status or {}).get("environments") or []
    return {str(r.get("environment")): Evidence.from_record(r) for r in records if r.get("environment")}


@dataclass(frozen=True)
class Check:
    """One gate: passed or not, why, and when it opens by itself (None: not by waiting)."""

    name: str
    passed: bool
    message: str
    opens_at: datetime | None = None


@dataclass(frozen=True)
class GateResult:
    """Every gate of a policy for one version."""

    version: str
    checks: tuple[Check, ...]

    @property
    def open(self) -> bool:
        return all(check.passed for check in self.checks)

    @property
    def failing(self) -> tuple[Check, ...]:
        return tuple(check for check in self.checks if not check.passed)

    @property
    def message(self) -> str:
        """One line: what is missing, or that every gate is open."""
        if self.open:
            return f"{self.version} passed every promotion gate" if self.checks else "no promotion gates"
        return "; ".join(check.message for check in self.failing)

    @property
    def opens_at(self) -> datetime | None:
        """When the gate opens by waiting alone; None when open already or something else is missing."""
        times = [check.opens_at for check in self.failing]
        if not times or any(t is None for t in times):
            return None
        return max(t for t in times if t is not None)


def evaluate(
    policy: PromotionPolicy,
    version: str,
    metrics: Mapping[str, Any] | None,
    evidence: Mapping[str, Evidence],
    now: datetime,
) -> GateResult:
    """Check `version` against `policy` (pure): environments first, then the metric floors."""
    checks: list[Check] = []
    for req in policy.requires:
        checks.extend(_environment_checks(req, version, evidence.get(req.environment), now))
    checks.extend(_metric_check(version, name, floor, metrics or {}) for name, floor in policy.min_metrics)
    return GateResult(version, tuple(checks))


def _environment_checks(req: Requirement, version: str, ev: Evidence | None, now: datetime) -> list[Check]:
    env = req.environment
    checks = [_health_check(req, version, ev, now)]
    if req.analysis_passed:
        name = f"analysis passed in {env}"
        if ev is not None and ev.analysis_passed is True:
            checks.append(Check(name, True, f"{version} passed its analysis in {env}"))
        elif ev is not None and ev.analysis_passed is False:
            checks.append(Check(name, False, f"{version} failed its analysis in {env}"))
        else:
            checks.append(Check(name, False, f"{version} has no passed analysis in {env} yet"))
    return checks


def _health_check(req: Requirement, version: str, ev: Evidence | None, now: datetime) -> Check:
    env, required = req.environment, req.healthy_for_seconds
    name = f"healthy in {env} for {format_duration(required)}"
    if ev is None or (ev.available_since is None and ev.failed_at is None and ev.served_until is None):
        return Check(name, False, f"{version} has not run in {env}")
    if ev.failed_at is not None and ev.failed_last:
        why = f": {ev.failure}" if ev.failure else ""
        return Check(name, False, f"{version} failed in {env} at {format_time(ev.failed_at)}{why}")
    if ev.available_since is None:
        until = f" since {format_time(ev.served_until)}" if ev.served_until else ""
        return Check(name, False, f"{version} has not been serving in {env}{until}")
    elapsed = max(0.0, (now - ev.available_since).total_seconds())
    if elapsed >= required:
        return Check(name, True, f"{version} has been healthy in {env} for {format_duration(elapsed)}")
    return Check(
        name,
        False,
        f"{version} has been healthy in {env} for {format_duration(elapsed)} "
        f"of the required {format_duration(required)}",
        opens_at=ev.available_since + timedelta(seconds=required),
    )


def _metric_check(version: str, name: str, floor: float, metrics: Mapping[str, Any]) -> Check:
    label = f"{name} >= {floor:g}"
    value = metrics.get(name)
    if not isinstance(value, int | float) or isinstance(value, bool):
        return Check(label, False, f"{version} has no {name} metric (minimum {floor:g})")
    if value < floor:
        return Check(label, False, f"{version} {name} {value:g} is below the minimum {floor:g}")
    return Check(label, True, f"{version} {name} {value:g} meets the minimum {floor:g}")


def format_duration(seconds: float) -> str:
    """`45s`, `1m30s`, `4m`, `2h`, `1h5m`: seconds only under 2 minutes, so that messages change rarely."""
    total = int(seconds)
    if total >= 120:
        total -= total % 60
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [(hours, "h"), (minutes, "m"), (secs, "s")]
    text = "".join(f"{n}{unit}" for n, unit in parts if n)
    return text or "0s"


def format_time(moment: datetime) -> str:
    """RFC 3339 UTC with second precision, as Kubernetes writes times."""
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(text: Any) -> datetime | None:
    """An RFC 3339 time of a status field, or None."""
    if not text:
        return None
    return datetime.fromisoformat(str(text).replace("Z", "+00:00"))


def summary(checks: Iterable[Check]) -> list[dict[str, Any]]:
    """The checks as JSON-friendly dicts (status, CLI `-o json`)."""
    return [
        {
            "gate": check.name,
            "passed": check.passed,
            "message": check.message,
            **({"opensAt": format_time(check.opens_at)} if check.opens_at else {}),
        }
        for check in checks
    ]


def needs_gate(md: Mapping[str, Any], version: str, mv: Mapping[str, Any] | None) -> bool:
    """True when rolling out `version` through `md` must pass `md`'s gates.

    Not when `md` has no `spec.promotion`, when `version` is already its stable or serving version,
    or when `version` was the stable version of this environment before (a rollback).
    """
    if PromotionPolicy.from_spec(md.get("spec", {}).get("promotion")) is None:
        return False
    status = md.get("status") or {}
    if version in (status.get("stableVersion"), status.get("servingVersion")):
        return False
    env = md.get("spec", {}).get("environment")
    records = ((mv or {}).get("status") or {}).get("environments") or []
    return not any(r.get("environment") == env and r.get("promotedAt") for r in records)


def check_objects(
    md: Mapping[str, Any], version: str, mv: Mapping[str, Any] | None, now: datetime
) -> GateResult:
    """`md`'s gates for `version` against the evidence and metrics of its ModelVersion `mv`."""
    policy = PromotionPolicy.from_spec(md.get("spec", {}).get("promotion")) or PromotionPolicy()
    evidence = evidence_from_status((mv or {}).get("status"))
    return evaluate(policy, version, (mv or {}).get("spec", {}).get("metrics"), evidence, now)


def override_reason(md: Mapping[str, Any], version: str) -> str | None:
    """The break-glass reason when `md`'s override annotation names `version` ("" without a reason);
    None when no override names `version`."""
    annotations = md.get("metadata", {}).get("annotations") or {}
    named = annotations.get(OVERRIDE_ANNOTATION)
    if named is None or not same_version(str(named).strip(), version):
        return None
    return str(annotations.get(OVERRIDE_REASON_ANNOTATION, "")).strip()


def same_version(a: str, b: str) -> bool:
    """True when both are the same semantic version (`1.2.0` == `v1.2.0`)."""
    try:
        return canonical(a) == canonical(b)
    except InvalidVersionError:
        return False
