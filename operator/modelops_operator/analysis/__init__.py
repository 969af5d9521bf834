"""Metric analysis of a rolled-out model version: error rate and p99 latency against thresholds (issue 8),
and its predictions against the stable version's (issue 17: label shift, mean top score).

Pure code plus one thin I/O module: `samples` (parse the server's /metrics), `window` (per-pod counter
increases over the window), `quantile` (p99 from histogram buckets), `decision` (the verdict),
`model_aware` (Jensen-Shannon label shift and top-score delta),
`progress` (the `status.analysis` JSON), `stored` (its typed view, decoded once per reconcile),
`step` (one analysis step), plus `scrape` (pod proxy or
Prometheus) and `hooks` (`collect` and `judge`, the two calls `promotion.py` makes). The last two need
the Kubernetes client, so they are imported on their own: `from modelops_operator.analysis import hooks`.
"""

from .decision import Action, Figures, Phase, Thresholds
from .progress import AnalysisProgress
from .samples import Snapshot

__all__ = ["Action", "AnalysisProgress", "Figures", "Phase", "Snapshot", "Thresholds"]
