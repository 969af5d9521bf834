"""Conditions keep their transition time while the status holds and carry observedGeneration."""

from __future__ import annotations

from modelops_operator import conditions as c


def test_same_status_keeps_transition_time() -> None:
    first = c.set_condition([], c.make(c.AVAILABLE, True, "A", "m", generation=1, now="T1"))
    second = c.set_condition(first, c.make(c.AVAILABLE, True, "B", "m2", generation=2, now="T2"))
    assert second == [
        {
            "type": "Available",
            "status": "True",
            "reason": "B",
            "message": "m2",
            "observedGeneration": 2,
            "lastTransitionTime": "T1",
        }
    ]


def test_changed_status_moves_transition_time_and_keeps_others() -> None:
    start = c.set_condition([], c.make(c.DEGRADED, False, "X", "", generation=1, now="T1"))
    start = c.set_condition(start, c.make(c.AVAILABLE, True, "Y", "", generation=1, now="T1"))
    changed = c.set_condition(start, c.make(c.DEGRADED, True, "Z", "", generation=1, now="T2"))
    assert [x["type"] for x in changed] == ["Available", "Degraded"]
    assert c.find(changed, c.DEGRADED) == {**c.make(c.DEGRADED, True, "Z", "", generation=1, now="T2")}
    assert c.is_true(changed, c.DEGRADED)
    assert not c.is_true(changed, c.PROGRESSING)


def test_reasons_are_unique_camel_case() -> None:
    reasons = [v for k, v in vars(c).items() if k.startswith("REASON_")]
    assert len(reasons) == len(set(reasons))
    assert all(r[0].isupper() and " " not in r for r in reasons)
