"""Classification metrics reported by the training examples and stored in `metadata.json`.

Binary tasks report precision/recall of the positive class (e.g. `risk`: recall is what matters for
a safety classifier); multi-class tasks report macro averages.
"""

from __future__ import annotations

from collections.abc import Sequence


def _ratio(numerator: int, denominator: int) -> float:
    return numerator / denominator if denominator else 0.0


def _f1(precision: float, recall: float) -> float:
    return 2 * precision * recall / (precision + recall) if precision + recall else 0.0


def class_precision_recall(truth: Sequence[int], predicted: Sequence[int], label: int) -> tuple[float, float]:
    """Precision and recall of one class."""
    hits = sum(1 for t, p in zip(truth, predicted, strict=True) if t == p == label)
    return (
        _ratio(hits, sum(1 for p in predicted if p == label)),
        _ratio(hits, sum(1 for t in truth if t == label)),
    )


def classification_metrics(
    truth: Sequence[int], predicted: Sequence[int], num_labels: int, positive: int | None
) -> dict[str, float]:
    """accuracy, precision, recall, f1: of class `positive` when given, else macro-averaged."""
    accuracy = _ratio(sum(1 for t, p in zip(truth, predicted, strict=True) if t == p), len(truth))
    if positive is not None:
        precision, recall = class_precision_recall(truth, predicted, positive)
    else:
        pairs = [class_precision_recall(truth, predicted, label) for label in range(num_labels)]
        precision = sum(p for p, _ in pairs) / num_labels
        recall = sum(r for _, r in pairs) / num_labels
    return {
        "accuracy": round(accuracy, 4),
        "precision": round(precision, 4),
        "recall": round(recall, 4),
        "f1": round(_f1(precision, recall), 4),
    }
