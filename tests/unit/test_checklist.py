"""The seed's deployment checklist derived from ModelVersion and ModelDeployment objects."""

from __future__ import annotations

from typing import Any

from modelops import checklist
from support.operator_objects import T0, model_deployment, model_version

AVAILABLE = {"type": "Available", "status": "True", "reason": "Serving"}
HEALTHY = {"type": "Degraded", "status": "False", "reason": "AsExpected"}


def _mv(**status: Any) -> dict[str, Any]:
    mv = model_version(
        "v1.1.0",
        metrics={"accuracy": 0.93, "recall": 0.95},
        training={"dataSize": 1000, "date": "2026-01-01"},
        artifact={"uri": "/var/models/x", "sha256": "ab" * 32, "signature": {"publicKeySecret": "key"}},
    )
    mv["status"] = {"registeredAt": "2026-01-01T00:00:00Z", **status}
    return mv


def _production(**status: Any) -> dict[str, Any]:
    return model_deployment("v1.1.0", status=status)


def _items(mv: dict[str, Any], *deployments: dict[str, Any]) -> dict[str, checklist.Item]:
    return {item.name: item for item in checklist.build(mv, list(deployments), T0)}


def test_fresh_version_has_the_first_four_items_done() -> None:
    items = checklist.build(_mv(), [], T0)
    assert [i.name for i in items] == [
        "trained and evaluated",
        "exported",
        "metadata documented",
        "registered",
        "deployed to staging",
        "staging tests passed",
        "deployed to production",
        "health checks passing",
        "monitoring configured",
        "rollback plan ready",
    ]
    assert [i.done for i in items] == [True] * 4 + [False] * 6
    assert items[0].evidence == "accuracy 0.93, recall 0.95"
    assert "sha256 abababababab…" in items[3].evidence and "signed (key in Secret key)" in items[3].evidence
    assert items[4].evidence == "never served in staging"


def test_everything_done_in_production_with_evidence() -> None:
    mv = _mv(
        environments=[
            {"environment": "production", "availableSince": "2026-01-01T11:00:00Z", "analysisPassed": True},
            {"environment": "staging", "servedUntil": "2026-01-01T10:00:00Z", "analysisPassed": True},
        ]
    )
    production = _production(
        servingVersion="v1.1.0",
        stableVersion="v1.1.0",
        ready="2/2",
        conditions=[AVAILABLE, HEALTHY],
        analysis={"version": "v1.1.0", "phase": "Passed", "updatedAt": "2026-01-01T11:05:00Z"},
        history=[
            {"version": "v1.0.0", "event": "Promoted"},
            {"version": "v1.1.0", "event": "Promoted"},
        ],
    )
    items = _items(mv, production)
    assert all(i.done for i in items.values()), [i for i in items.values() if not i.done]
    assert items["deployed to production"].evidence == "serving in production since 2026-01-01T11:00:00Z"
    assert items["health checks passing"].evidence.startswith("2/2 pods ready in production")
    assert (
        items["monitoring configured"].evidence
        == "/metrics scraped at 2026-01-01T11:05:00Z (analysis Passed)"
    )
    assert items["rollback plan ready"].evidence.startswith("v1.0.0 was stable in production")


def test_staging_item_follows_productions_gates() -> None:
    mv = _mv(environments=[{"environment": "staging", "availableSince": "2026-01-01T11:56:00Z"}])
    gated = model_deployment(
        "v1.0.0",
        status={"servingVersion": "v1.0.0", "stableVersion": "v1.0.0"},
        promotion={"requires": [{"environment": "staging", "healthyForSeconds": 600}]},
    )
    item = _items(mv, gated)["staging tests passed"]
    assert not item.done
    assert item.evidence == (
        "production's promotion gates: v1.1.0 has been healthy in staging for 4m of the required 10m"
    )


def test_failure_in_staging_is_an_open_item() -> None:
    mv = _mv(
        environments=[
            {"environment": "staging", "failedAt": "2026-01-01T11:00:00Z", "failure": "CrashLoop: x"}
        ]
    )
    items = _items(mv)
    assert items["deployed to staging"].evidence == "failed in staging: CrashLoop: x"
    assert items["staging tests passed"].evidence == "failed in staging: CrashLoop: x"


def test_unhealthy_production_and_no_rollback_target() -> None:
    degraded = {"type": "Degraded", "status": "True", "reason": "RolledBack", "message": "v1.1.0 failed"}
    production = _production(servingVersion="v1.1.0", conditions=[AVAILABLE, degraded])
    items = _items(_mv(), production)
    assert items["health checks passing"].evidence == "production is not healthy: v1.1.0 failed"
    assert not items["rollback plan ready"].done
    assert not items["monitoring configured"].done


def test_stable_version_passed_its_gates_and_a_blocked_successor_does_not_make_it_unhealthy() -> None:
    blocked = {"type": "Degraded", "status": "True", "reason": "PromotionBlocked", "message": "v1.2.0 ..."}
    mv = _mv(environments=[{"environment": "production", "availableSince": "2026-01-01T11:00:00Z"}])
    production = model_deployment(
        "v1.2.0",
        status={
            "servingVersion": "v1.1.0",
            "stableVersion": "v1.1.0",
            "ready": "2/2",
            "conditions": [AVAILABLE, blocked],
        },
        promotion={"requires": [{"environment": "staging", "healthyForSeconds": 600}]},
    )
    items = _items(mv, production)
    assert items["staging tests passed"].done
    assert (
        items["staging tests passed"].evidence
        == "v1.1.0 is or was stable in production: its gates were passed"
    )
    assert items["health checks passing"].done
