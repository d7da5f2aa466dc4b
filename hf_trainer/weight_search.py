"""Ensemble weights: a weighted mean of member probabilities, weights searched on the simplex.

The objective is val macro F1 with per-label thresholds tuned for each candidate (the final
predictions use tuned thresholds, so that is what to maximise; the exact threshold search makes a
candidate cost about a millisecond), or the log loss of the mixed probabilities.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

import numpy as np

from .errors import InvalidInput
from .thresholds import tuned_macro_f1, tuned_macro_f1_many

OBJECTIVES = ("f1_macro_tuned", "logloss")


def combine(probs: Sequence[np.ndarray], weights: Sequence[float]) -> np.ndarray:
    """Weighted mean of member probabilities."""
    weights = np.asarray(weights, dtype=np.float64)
    return np.tensordot(weights, np.stack([np.asarray(p, dtype=np.float64) for p in probs]), axes=1)


def simplex_grid(members: int, steps: int) -> np.ndarray:
    """All weight vectors with entries k/steps summing to 1."""
    points = [
        np.diff(np.r_[0, cuts, steps]) / steps
        for cuts in itertools.combinations_with_replacement(range(steps + 1), members - 1)
    ]
    return np.array(points, dtype=np.float64)


def log_loss(probs: np.ndarray, labels: np.ndarray) -> float:
    p = np.clip(probs, 1e-7, 1 - 1e-7)
    return float(-np.mean(labels * np.log(p) + (1 - labels) * np.log(1 - p)))


def score(probs: np.ndarray, labels: np.ndarray, objective: str) -> float:
    """Higher is better for every objective (log loss is negated)."""
    if objective == "f1_macro_tuned":
        return tuned_macro_f1(probs, labels)
    if objective == "logloss":
        return -log_loss(probs, labels)
    raise InvalidInput(f"unknown objective {objective!r}; choose one of {OBJECTIVES}")


def scores(candidates: np.ndarray, stacked: np.ndarray, labels: np.ndarray, objective: str, chunk: int = 64):
    """`score` of the mixture of each weight vector in `candidates` (the tuned-F1 objective
    vectorised over chunks of candidates; each mixture mixed as `combine` mixes it)."""
    if objective != "f1_macro_tuned":
        return [score(np.tensordot(w, stacked, axes=1), labels, objective) for w in candidates]
    out = []
    for start in range(0, len(candidates), chunk):
        mixed = np.stack([np.tensordot(w, stacked, axes=1) for w in candidates[start : start + chunk]])
        out.extend(tuned_macro_f1_many(mixed, labels).tolist())
    return out


def _steps_for(members: int, budget: int = 3000) -> int:
    steps = 20
    while steps > 1 and math.comb(steps + members - 1, members - 1) > budget:
        steps -= 1
    return steps


def optimise_weights(
    member_probs: Sequence[np.ndarray], labels: np.ndarray, objective: str = "f1_macro_tuned"
) -> tuple[np.ndarray, float]:
    """Weights on the simplex maximising `objective` on (probs, labels): a coarse grid, then a finer
    grid around the best point. Equal scores go to the weights closest to uniform."""
    n = len(member_probs)
    if n == 0:
        raise InvalidInput("an ensemble needs at least one member")
    if n == 1:
        return np.ones(1), score(np.asarray(member_probs[0]), labels, objective)
    stacked = np.stack([np.asarray(p, dtype=np.float64) for p in member_probs])
    uniform = np.full(n, 1.0 / n)

    def evaluate(candidates: np.ndarray) -> tuple[np.ndarray, float]:
        best_w, best_s, best_d = uniform, -np.inf, np.inf
        for w, s in zip(candidates, scores(candidates, stacked, labels, objective), strict=True):
            d = float(np.abs(w - uniform).sum())
            if s > best_s + 1e-12 or (abs(s - best_s) <= 1e-12 and d < best_d):
                best_w, best_s, best_d = w, s, d
        return best_w, best_s

    steps = _steps_for(n)
    weights, best = evaluate(np.vstack([simplex_grid(n, steps), uniform]))
    if math.comb(steps * 5 + n - 1, n - 1) > 1_000_000:
        return weights, best  # many members: the coarse grid is as far as a grid goes
    # Refine: a grid 5x finer within one coarse step of the best point.
    weights, best = evaluate(np.vstack([simplex_neighbourhood(weights, steps * 5, 5), weights]))
    return weights, best


def simplex_neighbourhood(center: np.ndarray, steps: int, reach: int) -> np.ndarray:
    """The points of `simplex_grid(len(center), steps)` within reach/steps of `center` in every
    coordinate, in the grid's order, without building the whole grid."""
    target = np.asarray(center, dtype=np.float64) * steps
    tolerance = reach + 1e-9 * steps
    ranges = [
        range(max(0, math.ceil(t - tolerance)), min(steps, math.floor(t + tolerance)) + 1)
        for t in target[:-1]
    ]
    points = []
    for head in itertools.product(*ranges):
        last = steps - sum(head)
        if last >= 0 and abs(last - target[-1]) <= tolerance:
            points.append((*head, last))
    return np.array(points, dtype=np.float64).reshape(-1, len(target)) / steps
