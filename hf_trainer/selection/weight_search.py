"""Ensemble weights: a weighted mean of member probabilities, weights searched on the simplex.

The objective is val macro F1 with per-label thresholds tuned for each candidate (the final
predictions use tuned thresholds, so that is what to maximise; the exact threshold search makes a
candidate cost about a millisecond), or the log loss of the mixed probabilities.

With tuned thresholds the search is often indifferent to a weak member: a member whose scores carry
little information only shifts the others' scores, the thresholds follow, and a weight of 0.45 on it
can score as well as 0.05. A reader takes such a weight for "this member carries 45%". So
`choose_weights` does not simply take the best candidate: among the candidates the validation rows
cannot tell apart from it (the 95% interval of the paired bootstrap difference of tuned macro F1
covers 0), it takes the one that puts the least weight on weak members. `removal_effects` says, per
member, what leaving it out changes, with the same paired bootstrap.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence

import numpy as np

from ..utils.errors import InvalidInput
from .thresholds import tune_thresholds, tuned_macro_f1, tuned_macro_f1_many

OBJECTIVES = ("f1_macro_tuned", "logloss")
NOISE_RESAMPLES = 200  # paired bootstrap resamples of the validation rows for "within the noise"


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
    candidates, values = search_candidates(member_probs, labels, objective)
    best = _best_index(candidates, values)
    return candidates[best], float(values[best])


def search_candidates(
    member_probs: Sequence[np.ndarray], labels: np.ndarray, objective: str = "f1_macro_tuned"
) -> tuple[np.ndarray, np.ndarray]:
    """Every weight vector the search scored (the coarse grid, then a 5x finer grid within one coarse
    step of the coarse grid's best point) and its `objective` value."""
    n = len(member_probs)
    if n == 0:
        raise InvalidInput("an ensemble needs at least one member")
    if n == 1:
        return np.ones((1, 1)), np.array([score(np.asarray(member_probs[0]), labels, objective)])
    stacked = np.stack([np.asarray(p, dtype=np.float64) for p in member_probs])
    uniform = np.full(n, 1.0 / n)
    steps = _steps_for(n)
    candidates = np.vstack([simplex_grid(n, steps), uniform])
    values = np.asarray(scores(candidates, stacked, labels, objective), dtype=np.float64)
    if math.comb(steps * 5 + n - 1, n - 1) > 1_000_000:
        return candidates, values  # many members: the coarse grid is as far as a grid goes
    centre = candidates[_best_index(candidates, values)]
    finer = simplex_neighbourhood(centre, steps * 5, 5)
    finer_values = np.asarray(scores(finer, stacked, labels, objective), dtype=np.float64)
    return np.vstack([candidates, finer]), np.concatenate([values, finer_values])


def _best_index(candidates: np.ndarray, values: np.ndarray) -> int:
    """The best value; among equal values (within 1e-12), the weights closest to uniform."""
    uniform = np.full(candidates.shape[1], 1.0 / candidates.shape[1])
    distance = np.abs(candidates - uniform).sum(axis=1)
    top = values.max()
    tied = np.flatnonzero(values >= top - 1e-12)
    return int(tied[np.argmin(distance[tied])])


def _decisions(stacked: np.ndarray, weights: np.ndarray, labels: np.ndarray, after_mix=None) -> np.ndarray:
    """0/1 decisions of one mixture (then `after_mix`, if any) at thresholds tuned on the same rows
    (what the objective scores)."""
    from ..metrics.multilabel import binarize

    mixed = np.tensordot(weights, stacked, axes=1)
    mixed = after_mix(mixed) if after_mix is not None else mixed
    return binarize(mixed, tune_thresholds(mixed, labels)[0])


def choose_weights(
    member_probs: Sequence[np.ndarray],
    labels: np.ndarray,
    objective: str = "f1_macro_tuned",
    seed: int = 42,
) -> tuple[np.ndarray, float, dict]:
    """The weights to ship, their objective value, and how they were chosen.

    With the tuned-F1 objective: among the candidates of `search_candidates` that the rows cannot
    tell apart from the best one (the 95% interval of the paired bootstrap difference in tuned macro
    F1 covers 0), the one with the least weight on weak members: the least sum of weight x (the
    strongest member's tuned F1 - this member's). Candidates are tried from the least such penalty
    up, among those whose own value is within two bootstrap standard deviations of the best (a
    generous first cut: a paired difference varies less than either figure); the best candidate
    ends the search at the latest. With log loss, the best candidate.
    """
    from ..metrics.multilabel import f1_scores
    from ..metrics.uncertainty import paired_difference, resample_counts

    candidates, values = search_candidates(member_probs, labels, objective)
    best = _best_index(candidates, values)
    n = candidates.shape[1]
    if objective != "f1_macro_tuned" or n == 1:
        return candidates[best], float(values[best]), {"rule": "best objective value"}
    labels = np.asarray(labels)
    stacked = np.stack([np.asarray(p, dtype=np.float64) for p in member_probs])
    strength = np.array([tuned_macro_f1(p, labels) for p in stacked])
    penalty = candidates @ (strength.max() - strength)  # 0 for weight on the strongest member only
    counts = resample_counts(len(labels), NOISE_RESAMPLES, seed)
    reference = _decisions(stacked, candidates[best], labels)
    spread = float(np.std(f1_scores(reference, labels, counts)["f1_macro"]))
    near = np.flatnonzero((values >= values[best] - 2 * spread) & (penalty < penalty[best] - 1e-12))
    chosen, checked = best, 0
    for i in near[np.lexsort((-values[near], penalty[near]))]:
        checked += 1
        difference = paired_difference("candidate", _decisions(stacked, candidates[i], labels), "best",
                                       reference, labels, counts)  # fmt: skip
        if difference.inside_noise:
            chosen = int(i)
            break
    report = {
        "rule": (
            "least weight on weak members among the candidates whose tuned val macro F1 is inside the noise of "
            f"the best (95% paired bootstrap interval over {NOISE_RESAMPLES} resamples of the validation rows "
            "covers 0); weakness = the strongest member's tuned val macro F1 minus the member's"
        ),
        "best": {
            "weights": candidates[best].tolist(),
            "value": float(values[best]),
            "weak_member_penalty": float(penalty[best]),
        },  # fmt: skip
        "chosen": {
            "weights": candidates[chosen].tolist(),
            "value": float(values[chosen]),
            "weak_member_penalty": float(penalty[chosen]),
        },  # fmt: skip
        "bootstrap_sd_of_best": spread,
        "candidates_checked": checked,
        "member_val_f1_macro_tuned": strength.tolist(),
    }
    return candidates[chosen], float(values[chosen]), report


def removal_effects(
    member_probs: Sequence[np.ndarray], weights: Sequence[float], labels: np.ndarray,
    names: Sequence[str], seed: int = 42, after_mix: Callable[[np.ndarray], np.ndarray] | None = None,
) -> list[dict]:  # fmt: skip
    """Per member: tuned val macro F1 of the ensemble without it (the other weights rescaled to sum
    to 1, thresholds tuned again) minus the ensemble's, with its 95% paired bootstrap interval;
    `changes_nothing` when the interval covers 0 (the rows cannot tell the two apart). `after_mix`
    (the mention gate, its member not among `member_probs`) acts on every mix before the thresholds."""
    from ..metrics.uncertainty import paired_difference, resample_counts

    weights = np.asarray(weights, dtype=np.float64)
    if len(weights) < 2:
        return []
    labels = np.asarray(labels)
    stacked = np.stack([np.asarray(p, dtype=np.float64) for p in member_probs])
    counts = resample_counts(len(labels), NOISE_RESAMPLES, seed)
    full = _decisions(stacked, weights, labels, after_mix)
    effects = []
    for i, name in enumerate(names):
        rest = np.delete(weights, i)
        if rest.sum() <= 0:  # every other member has weight 0: the ensemble is this member
            rest = np.full(len(rest), 1.0 / len(rest))
        without = np.insert(rest / rest.sum(), i, 0.0)
        difference = paired_difference(f"without {name}", _decisions(stacked, without, labels, after_mix), "ensemble",
                                       full, labels, counts)  # fmt: skip
        effects.append({
            "member": name, "difference": difference.observed, "ci": difference.ci,
            "changes_nothing": difference.inside_noise,
        })  # fmt: skip
    return effects


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
