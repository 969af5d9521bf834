"""The typed `status.analysis` view: what it decodes, its defaults, and that it writes back the same JSON."""

from __future__ import annotations

from typing import Any

from modelops_operator.analysis.stored import StoredAnalysis

RUNNING: dict[str, Any] = {
    "phase": "Running",
    "version": "v1.1.0",
    "thresholds": {"windowSeconds": 60, "intervalSeconds": 5, "maxErrorRate": 0.05},
    "candidate": {"version": "v1.1.0", "requests": 40, "errors": 0},
    "message": "40 requests after 20s of 60s",
    "startedAt": "2026-01-01T00:00:00.000000Z",
    "updatedAt": "2026-01-01T00:00:20.000000Z",
    "state": {"version": "v1.1.0", "stableVersion": "v1.0.0"},
}


def test_a_stored_analysis_round_trips_key_for_key() -> None:
    view = StoredAnalysis.of({"stableVersion": "v1.0.0", "analysis": RUNNING})
    assert view.to_status() == RUNNING
    assert list(view.to_status() or {}) == list(RUNNING)
    assert (view.version, view.phase, view.message) == ("v1.1.0", "Running", RUNNING["message"])
    assert view.interval_seconds == 5.0


def test_no_analysis_decodes_to_the_defaults_and_writes_nothing() -> None:
    for status in (None, {}, {"analysis": None}, {"analysis": {}}, {"analysis": "garbage"}):
        view = StoredAnalysis.of(status)
        assert view == StoredAnalysis(), status
        assert view.to_status() is None
        assert not view.present and not view.unfinished
        assert not view.of_version("v1.1.0")


def test_a_partial_analysis_takes_defaults_for_missing_fields() -> None:
    view = StoredAnalysis.of({"analysis": {"version": "v1.1.0"}})
    assert view.present and view.of_version("v1.1.0")
    assert (view.phase, view.message, view.interval_seconds) == (None, "", None)
    assert view.to_status() == {"version": "v1.1.0"}
    assert StoredAnalysis.of({"analysis": {"phase": "Pending", "thresholds": None}}).interval_seconds is None


def test_the_phase_questions_name_the_version() -> None:
    running = StoredAnalysis.from_json(RUNNING)
    assert running.unfinished_of("v1.1.0") and not running.unfinished_of("v1.2.0")
    held = StoredAnalysis.from_json({**RUNNING, "phase": "Inconclusive"})
    assert held.held_of("v1.1.0") and not held.unfinished_of("v1.1.0")
    assert not running.held_of("v1.1.0")


def test_a_failed_verdict_resumes_only_while_its_failed_version_entry_stands() -> None:
    failed = StoredAnalysis.from_json({**RUNNING, "phase": "Failed"})
    assert failed.resumable([{"version": "v1.1.0"}]) is failed
    assert failed.resumable([]) == StoredAnalysis()  # the entry is gone: a retry measures afresh
    running = StoredAnalysis.from_json(RUNNING)
    assert running.resumable([]) is running
