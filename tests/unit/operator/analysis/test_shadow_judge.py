"""The Shadow verdict (analysis/shadow.py): counters parsed from the server's exposition, folded, judged."""

from __future__ import annotations

from modelops_operator.analysis import Action, Thresholds
from modelops_operator.analysis.shadow import ShadowFigures, fold, judge, parse
from modelops_server.metrics import ServerMetrics


def test_parse_reads_the_server_s_own_exposition_for_one_version() -> None:
    metrics = ServerMetrics()
    metrics.shadow_requests.labels("v2", "agree").inc(7)
    metrics.shadow_requests.labels("v2", "disagree").inc(3)
    metrics.shadow_requests.labels("v9", "agree").inc(100)  # another candidate: not counted
    metrics.shadow_score_delta.labels("v2").observe(0.25)
    counts = parse(metrics.render().decode(), "v2")
    assert counts == {"agree": 7, "disagree": 3, "error": 0, "dropped": 0, "deltaSum": 0.25}


def test_fold_keeps_the_highest_counters_and_gone_pods_and_the_baseline_is_subtracted() -> None:
    seen = fold({}, {"a": {"agree": 5}, "b": {"agree": 3}})
    seen = fold(seen, {"a": {"agree": 9}})  # b is gone: its 3 stay
    figures = ShadowFigures.of(seen, {"a": {"agree": 2}})  # a had mirrored 2 to this version before
    assert figures.agree == 10


def test_judge() -> None:
    thresholds = Thresholds(min_agreement=0.8, max_error_rate=0.1)
    assert judge(ShadowFigures(agree=1), thresholds, 10, over=False).action == Action.WAIT
    assert judge(ShadowFigures(agree=90, disagree=10), thresholds, 10, over=True).action == Action.PROMOTE
    assert judge(ShadowFigures(agree=70, disagree=30), thresholds, 10, over=True).action == Action.FAIL
    errors = judge(ShadowFigures(agree=90, error=20), thresholds, 10, over=True)
    assert errors.action == Action.FAIL and "maxErrorRate" in errors.message
    few = judge(ShadowFigures(agree=5), Thresholds(inconclusive="Rollback"), 10, over=True)
    assert few.action == Action.FAIL and few.inconclusive
    assert judge(ShadowFigures(agree=5), Thresholds(), 10, over=True).action == Action.PROMOTE  # CRD default
