"""The one metric implementation used by training, thresholds, ensembling and the test report.

It is the local `evaluate` module in `metric_modules/multilabel`, loaded by path (works offline).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

METRIC_MODULE_DIR = Path(__file__).parent / "metric_modules" / "multilabel"


@functools.lru_cache(maxsize=1)
def load_metric():
    """The multi-label `evaluate` metric, loaded from this package's folder (never from the Hub)."""
    import evaluate

    return evaluate.load(str(METRIC_MODULE_DIR), keep_in_memory=True)


def sigmoid(logits: np.ndarray) -> np.ndarray:
    logits = np.asarray(logits, dtype=np.float64)
    return (1.0 / (1.0 + np.exp(-np.clip(logits, -50, 50)))).astype(np.float32)


def binarize(probs: np.ndarray, thresholds: float | Sequence[float] | np.ndarray = 0.5) -> np.ndarray:
    """0/1 predictions: a label is on when its probability is >= its threshold.

    Compared in float64: a float32 cast of a tuned threshold can move it across a score.
    """
    probs = np.asarray(probs, dtype=np.float64)
    return (probs >= np.asarray(thresholds, dtype=np.float64)).astype(np.int8)


def f1_scores(
    predictions: np.ndarray, references: np.ndarray, row_weights: np.ndarray | None = None
) -> dict[str, np.ndarray]:
    """Macro F1, micro F1 and per-label F1 of 0/1 predictions, fast, for many weightings of the rows.

    `row_weights` (B, rows) counts each row that many times in weighting b (a bootstrap resample, a
    fold mask); None is one weighting of ones. Returns arrays of shape (B,), (B,) and (B, labels).
    Equal to the module's figures (scikit-learn, zero_division=0) for weights of ones (tested); the
    cross-validation and the bootstrap use it because they score thousands of weightings.
    """
    pred = np.asarray(predictions) >= 0.5
    gold = np.asarray(references) >= 0.5
    weights = (
        np.ones((1, len(gold))) if row_weights is None else np.atleast_2d(row_weights).astype(np.float64)
    )
    tp = weights @ (pred & gold).astype(np.float64)
    fp = weights @ (pred & ~gold).astype(np.float64)
    fn = weights @ (~pred & gold).astype(np.float64)

    def f1(tp: np.ndarray, fp: np.ndarray, fn: np.ndarray) -> np.ndarray:
        denominator = 2 * tp + fp + fn
        return np.divide(2 * tp, denominator, out=np.zeros_like(tp), where=denominator > 0)

    per_label = f1(tp, fp, fn)
    micro = f1(tp.sum(axis=1), fp.sum(axis=1), fn.sum(axis=1))
    return {"f1_macro": per_label.mean(axis=1), "f1_micro": micro, "per_label": per_label}


def macro_f1(predictions: np.ndarray, references: np.ndarray) -> float:
    """Macro F1 of 0/1 predictions (scikit-learn's, zero_division=0): the one place that computes it
    from decisions; `f1_scores` gives it for many weightings of the rows at once."""
    return float(f1_scores(predictions, references)["f1_macro"][0])


def multilabel_metrics(
    probs: np.ndarray,
    labels: np.ndarray,
    label_names: Sequence[str],
    thresholds: float | Sequence[float] | np.ndarray = 0.5,
) -> dict:
    """All metrics of the module for probabilities thresholded per label."""
    references = (np.asarray(labels) >= 0.5).astype(np.int8)
    return load_metric().compute(
        predictions=binarize(probs, thresholds),
        references=references,
        scores=np.asarray(probs, dtype=np.float64),  # float32 would tie saturated scores (LRAP, AUC)
        label_names=list(label_names),
    )


def flatten_metrics(result: dict) -> dict[str, float]:
    """Flat float dict for Trainer logs: per-label F1 become `f1_<label>`."""
    flat = {k: v for k, v in result.items() if k != "per_label"}
    for name, values in result.get("per_label", {}).items():
        flat[f"f1_{name}"] = values["f1"]
    return flat


def make_compute_metrics(label_names: Sequence[str], threshold: float = 0.5) -> Callable:
    """`compute_metrics` for the Trainer: sigmoid, threshold 0.5, the module's metrics."""

    def compute_metrics(eval_pred) -> dict[str, float]:
        logits, labels = eval_pred.predictions, eval_pred.label_ids
        if isinstance(logits, tuple):
            logits = logits[0]
        return flatten_metrics(multilabel_metrics(sigmoid(logits), labels, label_names, threshold))

    return compute_metrics
