"""Whether a score of 0.8 means "80% of such comments carry the label": calibration error and
temperature scaling.

Expected calibration error (ECE) per label: scores cut into equal-width bins; the row-weighted mean
gap between each bin's mean score and its share of positives. The BCE loss with pos_weight trains
the members to over-score positives on purpose (rare labels weigh up to 10x), so raw member scores
tend to run high. Temperature scaling, one scalar per member fitted on the validation split, rescales
a member's logits without changing its ranking of comments; it can reduce over-confidence, but one
scale shared by all labels cannot undo a different upward shift per label. The report's ECE table
shows what it did.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

CALIBRATIONS = ("none", "temperature")
BINS = 10
# float32 sigmoid saturates at 1.0 for logits above ~17; the clip keeps their logits finite.
_EPS = 1e-7


def reliability_bins(scores: np.ndarray, labels: np.ndarray, bins: int = BINS) -> dict[str, np.ndarray]:
    """Per equal-width bin of scores: rows, mean score, share of positives (NaN in empty bins)."""
    scores = np.asarray(scores, dtype=np.float64).ravel()
    positive = (np.asarray(labels) >= 0.5).ravel().astype(np.float64)
    which = np.clip((scores * bins).astype(np.int64), 0, bins - 1)  # a score of 1.0 joins the last bin
    rows = np.bincount(which, minlength=bins).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_score = np.bincount(which, weights=scores, minlength=bins) / rows
        positive_rate = np.bincount(which, weights=positive, minlength=bins) / rows
    return {"rows": rows, "mean_score": mean_score, "positive_rate": positive_rate}


def expected_calibration_error(scores: np.ndarray, labels: np.ndarray, bins: int = BINS) -> float:
    """Row-weighted mean |mean score - share of positives| over the bins (0 = perfectly calibrated)."""
    table = reliability_bins(scores, labels, bins)
    filled = table["rows"] > 0
    gaps = np.abs(table["mean_score"][filled] - table["positive_rate"][filled])
    return float(np.sum(table["rows"][filled] * gaps) / np.sum(table["rows"][filled]))


def calibration_errors(
    probs: np.ndarray, labels: np.ndarray, label_names: Sequence[str], bins: int = BINS
) -> dict:
    """ECE per label, their mean, and the ECE of all (row, label) scores pooled."""
    probs, labels = np.asarray(probs), np.asarray(labels)
    per_label = {
        name: expected_calibration_error(probs[:, j], labels[:, j], bins)
        for j, name in enumerate(label_names)
    }
    return {
        "ece_per_label": per_label,
        "ece_mean": float(np.mean(list(per_label.values()))),
        "ece_pooled": expected_calibration_error(probs, labels, bins),
    }


def logits_of(probs: np.ndarray) -> np.ndarray:
    probs = np.clip(np.asarray(probs, dtype=np.float64), _EPS, 1.0 - _EPS)
    return np.log(probs) - np.log1p(-probs)


def apply_temperature(probs: np.ndarray, temperature: float) -> np.ndarray:
    """Scores with their logits divided by `temperature` (1.0 returns the scores untouched)."""
    if temperature == 1.0:
        return np.asarray(probs, dtype=np.float64)
    return 1.0 / (1.0 + np.exp(-logits_of(probs) / temperature))


def fit_temperature(probs: np.ndarray, labels: np.ndarray) -> float:
    """The temperature in [0.05, 20] minimising the mean binary cross-entropy on (probs, labels)."""
    from scipy.optimize import minimize_scalar

    logits = logits_of(probs)
    positive = (np.asarray(labels) >= 0.5).astype(np.float64)

    def loss(log_temperature: float) -> float:
        z = logits / np.exp(log_temperature)
        # log(1 + e^z) - y z, computed stably
        return float(np.mean(np.logaddexp(0.0, z) - positive * z))

    result = minimize_scalar(
        loss, bounds=(np.log(0.05), np.log(20.0)), method="bounded", options={"xatol": 1e-5}
    )
    return float(np.exp(result.x))
