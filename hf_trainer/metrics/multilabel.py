"""The one metric implementation used by training, thresholds, ensembling and the test report.

`compute_multilabel` computes every figure. Training reports it through the local `evaluate`
module in `metric_modules/multilabel` (loaded by path, offline), which calls the same function;
the later stages call it directly, because importing `evaluate` pulls in transformers.pipelines
(18 s per process on a 2-core machine) and they need nothing else from it.
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


def compute_multilabel(predictions, references, scores=None, label_names=None) -> dict:
    """Every figure of the metric module from 0/1 predictions (and optionally scores, for LRAP and ROC
    AUC): the one implementation, behind the local `evaluate` module and `multilabel_metrics`."""
    from sklearn import metrics

    y_pred = np.asarray(predictions, dtype=np.int8)
    y_true = np.asarray(references, dtype=np.int8)
    if y_pred.shape != y_true.shape or y_pred.ndim != 2:
        raise ValueError(f"predictions {y_pred.shape} and references {y_true.shape} must be equal 2-D shapes")
    n_labels = y_true.shape[1]
    names = list(label_names) if label_names is not None else [str(i) for i in range(n_labels)]
    if len(names) != n_labels:
        raise ValueError(f"{len(names)} label names for {n_labels} labels")
    precision, recall, f1, support = metrics.precision_recall_fscore_support(
        y_true, y_pred, average=None, zero_division=0
    )
    result = {
        "f1_macro": float(np.mean(f1)),
        "f1_micro": float(metrics.f1_score(y_true, y_pred, average="micro", zero_division=0)),
        "f1_weighted": float(metrics.f1_score(y_true, y_pred, average="weighted", zero_division=0)),
        "f1_samples": float(metrics.f1_score(y_true, y_pred, average="samples", zero_division=0)),
        "precision_macro": float(np.mean(precision)),
        "recall_macro": float(np.mean(recall)),
        "precision_micro": float(metrics.precision_score(y_true, y_pred, average="micro", zero_division=0)),
        "recall_micro": float(metrics.recall_score(y_true, y_pred, average="micro", zero_division=0)),
        "hamming_loss": float(metrics.hamming_loss(y_true, y_pred)),
        "exact_match": float(metrics.accuracy_score(y_true, y_pred)),
        "per_label": {
            name: {
                "precision": float(precision[i]),
                "recall": float(recall[i]),
                "f1": float(f1[i]),
                "support": int(support[i]),
            }
            for i, name in enumerate(names)
        },
    }
    if scores is not None:
        y_score = np.asarray(scores, dtype=np.float64)
        if y_score.shape != y_true.shape:
            raise ValueError(f"scores {y_score.shape} must have the shape of references {y_true.shape}")
        result["lrap"] = float(metrics.label_ranking_average_precision_score(y_true, y_score))
        both_classes = [j for j in range(n_labels) if 0 < y_true[:, j].sum() < len(y_true)]
        result["roc_auc_macro"] = (
            float(np.mean([metrics.roc_auc_score(y_true[:, j], y_score[:, j]) for j in both_classes]))
            if both_classes
            else float("nan")
        )
    return result


def multilabel_metrics(
    probs: np.ndarray,
    labels: np.ndarray,
    label_names: Sequence[str],
    thresholds: float | Sequence[float] | np.ndarray = 0.5,
) -> dict:
    """All metrics of the module for probabilities thresholded per label."""
    return compute_multilabel(
        binarize(probs, thresholds),
        (np.asarray(labels) >= 0.5).astype(np.int8),
        np.asarray(probs, dtype=np.float64),  # float32 would tie saturated scores (LRAP, AUC)
        list(label_names),
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
        probs = sigmoid(logits)
        # The local `evaluate` module, loaded at the first evaluation (a preflight never needs it).
        result = load_metric().compute(
            predictions=binarize(probs, threshold),
            references=(np.asarray(labels) >= 0.5).astype(np.int8),
            scores=np.asarray(probs, dtype=np.float64),
            label_names=list(label_names),
        )
        return flatten_metrics(result)

    return compute_metrics
