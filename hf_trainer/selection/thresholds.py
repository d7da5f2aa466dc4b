"""Per-label decision thresholds that maximise F1, found exactly.

For one label, F1 only changes where the threshold crosses a distinct score, so sorting the scores
once and reading true positives off cumulative counts gives F1 at every useful threshold in
O(n log n). Macro F1 is the mean of per-label F1, so tuning each label alone maximises it too.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..metrics.multilabel import multilabel_metrics


def f1_curve(scores: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """F1 of `scores >= t` for every distinct score t (descending), and those t."""
    scores = np.asarray(scores, dtype=np.float64)
    positives_true = np.asarray(labels) >= 0.5
    order = np.argsort(-scores, kind="stable")
    sorted_scores = scores[order]
    true_positives = np.cumsum(positives_true[order])
    # The last index of each run of equal scores: thresholding at that score predicts all of them.
    last_of_run = np.flatnonzero(np.r_[sorted_scores[1:] != sorted_scores[:-1], True])
    tp = true_positives[last_of_run]
    predicted = last_of_run + 1
    total_positive = positives_true.sum()
    f1 = np.where(predicted + total_positive > 0, 2.0 * tp / np.maximum(predicted + total_positive, 1), 0.0)
    return sorted_scores[last_of_run], f1


def best_threshold(scores: np.ndarray, labels: np.ndarray, default: float = 0.5) -> tuple[float, float]:
    """(threshold, F1) maximising F1 of `scores >= threshold`.

    The threshold is placed halfway between the chosen score and the next lower distinct score, so
    it keeps the same decisions on these rows and sits away from them. When the two scores are so
    close that their float64 midpoint rounds onto the lower one, the chosen score itself is the
    threshold: the decisions that were tuned are always the decisions applied. Keep thresholds and
    scores in float64 (as `binarize` and `combine` do); a float32 cast may merge adjacent scores.
    A label without positives keeps `default` (no threshold improves F1 = 0). Ties go to the higher
    threshold (fewer positives).
    """
    if len(scores) == 0 or not np.any(np.asarray(labels) >= 0.5):
        return default, 0.0
    thresholds, f1 = f1_curve(scores, labels)
    best = int(np.argmax(f1))  # first maximum = the highest threshold among ties
    upper = thresholds[best]
    lower = thresholds[best + 1] if best + 1 < len(thresholds) else None
    threshold = upper if lower is None else (upper + lower) / 2.0
    if lower is not None and not lower < threshold <= upper:
        threshold = upper
    return float(threshold), float(f1[best])


def tune_thresholds(
    probs: np.ndarray, labels: np.ndarray, default: float = 0.5
) -> tuple[np.ndarray, np.ndarray]:
    """Per-label thresholds and the F1 each reaches on (probs, labels)."""
    probs, labels = np.asarray(probs), np.asarray(labels)
    if probs.shape != labels.shape:
        raise ValueError(f"probs {probs.shape} and labels {labels.shape} differ in shape")
    results = [best_threshold(probs[:, j], labels[:, j], default) for j in range(probs.shape[1])]
    return np.array([r[0] for r in results], dtype=np.float64), np.array([r[1] for r in results])


def tuned_macro_f1(probs: np.ndarray, labels: np.ndarray) -> float:
    """Macro F1 reached with per-label thresholds tuned on the same rows."""
    return float(tune_thresholds(probs, labels)[1].mean())


def tuned_macro_f1_many(probs: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """`tuned_macro_f1` of many score matrices at once, shape (candidates, rows, labels) -> (candidates,):
    the same sorts, counts and sums, vectorised over the candidates (the weight search scores
    thousands), so each value equals `tuned_macro_f1` of that matrix exactly."""
    probs = np.asarray(probs, dtype=np.float64)
    positives = np.asarray(labels) >= 0.5  # (rows, labels)
    order = np.argsort(-probs, axis=1, kind="stable")
    sorted_scores = np.take_along_axis(probs, order, axis=1)
    true_positives = np.cumsum(
        np.take_along_axis(np.broadcast_to(positives, probs.shape), order, axis=1), axis=1
    )
    # A threshold can only fall between distinct scores: the last row of each run of equal scores.
    last_of_run = np.ones(probs.shape, dtype=bool)
    last_of_run[:, :-1] = sorted_scores[:, 1:] != sorted_scores[:, :-1]
    denominator = np.arange(1, probs.shape[1] + 1)[None, :, None] + positives.sum(axis=0)[None, None, :]
    f1 = np.where(last_of_run, 2.0 * true_positives / np.maximum(denominator, 1), -np.inf)
    best = np.ascontiguousarray(f1.max(axis=1))  # (candidates, labels)
    return np.array([row.mean() for row in best])


def threshold_report(
    probs: np.ndarray, labels: np.ndarray, names: Sequence[str], thresholds: Sequence[float]
) -> dict:
    """Val macro F1 at 0.5 and with `thresholds`, and per label, as stored in ensemble.json."""
    at_half = multilabel_metrics(probs, labels, names, 0.5)
    tuned = multilabel_metrics(probs, labels, names, thresholds)
    return {
        "val_f1_macro_at_0.5": at_half["f1_macro"],
        "val_f1_macro_tuned": tuned["f1_macro"],
        "per_label": {
            name: {
                "threshold": float(thresholds[j]),
                "val_f1_at_0.5": at_half["per_label"][name]["f1"],
                "val_f1_tuned": tuned["per_label"][name]["f1"],
            }
            for j, name in enumerate(names)
        },
    }
