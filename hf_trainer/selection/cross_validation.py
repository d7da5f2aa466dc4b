"""Honest estimates of the choices made on validation, before the test split is ever scored.

Thresholds tuned on the 1,501 validation rows score higher on those rows than on any other rows.
k-fold cross-validation shows by how much: tune on k-1 folds, apply to the held-out fold, and pool
the held-out decisions of all folds into one out-of-fold macro F1. The same machinery estimates the
whole selection (ensemble weights, then thresholds) and decides, per label, whether a tuned threshold
beats plain 0.5 out of fold at all.

Folds are multilabel-stratified (iterative stratification), so every fold holds its share of the
rare labels, and seeded.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from ..metrics.multilabel import binarize, f1_scores, macro_f1
from ..utils.errors import InvalidInput
from .mention_gate import GATE_STRENGTHS, GATE_TOLERANCE, apply_gate, gate_columns
from .thresholds import tune_thresholds
from .weight_search import choose_weights, combine

if TYPE_CHECKING:
    from .ensemble import EnsembleSpec

logger = logging.getLogger(__name__)

THRESHOLD_CHOICES = ("auto", "tuned", "per_label")
FOLDS = 5


def fold_index(labels: np.ndarray, folds: int = FOLDS, seed: int = 42) -> np.ndarray:
    """Per row, the fold (0..folds-1) that holds it out; multilabel-stratified and seeded."""
    from iterstrat.ml_stratifiers import MultilabelStratifiedKFold

    labels = (np.asarray(labels) >= 0.5).astype(np.int8)
    if folds < 2 or len(labels) < 2 * folds:
        raise InvalidInput(
            f"cross-validation needs folds >= 2 and at least {2 * folds} rows, got {len(labels)}"
        )
    index = np.empty(len(labels), dtype=np.int64)
    splitter = MultilabelStratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    for fold, (_, held_out) in enumerate(splitter.split(np.zeros(len(labels)), labels)):
        index[held_out] = fold
    return index


def per_fold_macro_f1(predictions: np.ndarray, references: np.ndarray, fold: np.ndarray) -> list[float]:
    """Macro F1 of each fold's rows."""
    return [macro_f1(predictions[fold == k], references[fold == k]) for k in range(int(fold.max()) + 1)]


def out_of_fold_predictions(probs: np.ndarray, labels: np.ndarray, fold: np.ndarray, fit) -> np.ndarray:
    """0/1 decisions for every row, each made by thresholds that `fit(probs, labels)` chose without it."""
    predictions = np.zeros(np.shape(probs), dtype=np.int8)
    for k in np.unique(fold):
        held_out = fold == k
        thresholds = fit(probs[~held_out], labels[~held_out])
        predictions[held_out] = binarize(probs[held_out], thresholds)
    return predictions


def per_label_choice(
    probs: np.ndarray, labels: np.ndarray, folds: int = FOLDS, seed: int = 42
) -> tuple[np.ndarray, dict]:
    """Thresholds tuned on all rows, except that a label whose tuned threshold does not beat 0.5 out of
    fold keeps 0.5. Returns the thresholds and, per label, the two out-of-fold F1 and the choice."""
    probs, labels = np.asarray(probs, dtype=np.float64), np.asarray(labels)
    tuned, _ = tune_thresholds(probs, labels)
    fold = fold_index(labels, folds, seed)
    oof_tuned = f1_scores(out_of_fold_predictions(probs, labels, fold, _tuned), labels)["per_label"][0]
    at_half = f1_scores(binarize(probs, 0.5), labels)["per_label"][0]
    keep_tuned = oof_tuned > at_half
    thresholds = np.where(keep_tuned, tuned, 0.5)
    choice = {
        "cv_f1_tuned": oof_tuned.tolist(),
        "f1_at_0.5": at_half.tolist(),
        "keeps": ["tuned" if keep else "0.5" for keep in keep_tuned],
    }
    return thresholds, choice


def _tuned(probs: np.ndarray, labels: np.ndarray) -> np.ndarray:
    return tune_thresholds(probs, labels)[0]


def threshold_fitter(choice: str, folds: int = FOLDS, seed: int = 42):
    """`fit(probs, labels) -> thresholds` for a threshold choice ("tuned" or "per_label")."""
    if choice == "tuned":
        return _tuned
    if choice == "per_label":
        return lambda probs, labels: per_label_choice(probs, labels, folds, seed)[0]
    raise InvalidInput(f"unknown threshold choice {choice!r}; choose one of {THRESHOLD_CHOICES}")


def shipped_threshold_fitter(threshold_report: dict | None):
    """`fit(probs, labels)` choosing thresholds the way the thresholds stage chose the ensemble's (its
    recorded choice, folds and seed; "tuned" for an ensemble.json from before the choice)."""
    evidence = (threshold_report or {}).get("cv") or {}
    return threshold_fitter(
        evidence.get("chosen", "tuned"), evidence.get("folds", FOLDS), evidence.get("seed", 42)
    )


def cross_validate_thresholds(
    probs: np.ndarray, labels: np.ndarray, choice: str, folds: int = FOLDS, seed: int = 42
) -> dict:
    """Out-of-fold macro F1 of a threshold choice on fixed scores, pooled and per fold."""
    probs, labels = np.asarray(probs, dtype=np.float64), np.asarray(labels)
    fold = fold_index(labels, folds, seed)
    predictions = out_of_fold_predictions(probs, labels, fold, threshold_fitter(choice, folds, seed))
    return {
        "cv_f1_macro": macro_f1(predictions, labels),
        "cv_f1_macro_per_fold": per_fold_macro_f1(predictions, labels, fold),
        "cv_per_label_f1": f1_scores(predictions, labels)["per_label"][0].tolist(),
    }


def choose_gate_strength(
    mixed: np.ndarray, gate_probs: np.ndarray, labels: np.ndarray, names: Sequence[str],
    folds: int = FOLDS, seed: int = 42,
) -> tuple[float, dict]:  # fmt: skip
    """The mention gate's strength (mention_gate.py): the strongest of GATE_STRENGTHS whose out-of-fold
    decisions (every label tuned) keep macro F1 within GATE_TOLERANCE of the ungated ensemble's and
    flag fewer clean val rows with a hate label than it does (the 95% interval of the paired bootstrap
    difference below 0: a gate that carries no information is not shipped); 0 (no gate) when none
    does. Returns it and the figures it was chosen by."""
    from ..metrics.uncertainty import interval, resample_counts

    labels = np.asarray(labels)
    fold = fold_index(labels, folds, seed)
    hate, clean = gate_columns(names)
    clean_rows = labels[:, clean] >= 0.5

    def out_of_fold(probs: np.ndarray) -> tuple[float, np.ndarray]:
        predictions = out_of_fold_predictions(probs, labels, fold, _tuned)
        return macro_f1(predictions, labels), predictions[clean_rows][:, hate].any(axis=1).astype(np.float64)

    ungated_f1, ungated_flags = out_of_fold(mixed)
    tried, chosen = {}, 0.0
    strengths = GATE_STRENGTHS if clean_rows.any() else ()  # no clean row: nothing a gate could spare
    if not strengths:
        logger.warning(
            "No clean row in the validation split: the mention gate cannot be chosen, so it is off"
        )
    counts = resample_counts(len(ungated_flags), seed=seed) if strengths else None
    for strength in strengths:
        f1, flags = out_of_fold(apply_gate(mixed, gate_probs, strength, names))
        ci = interval(counts @ (flags - ungated_flags) / max(1, len(flags)))
        tried[str(strength)] = {
            "cv_f1_macro": f1,
            "clean_rows_flagged": float(flags.mean()),
            "flagged_change_ci": ci,
        }
        if f1 >= ungated_f1 - GATE_TOLERANCE and ci[1] < 0:
            chosen = strength
    return chosen, {
        "rule": f"the strongest gate whose {folds}-fold CV val macro F1 (every label tuned) is within "
        f"{GATE_TOLERANCE} of the ungated ensemble's and which flags fewer clean val rows with a hate label "
        "(95% paired bootstrap interval of the change below 0)",
        # With no clean row there is nothing to flag: 0 (and "clean_rows": 0 says why).
        "ungated": {
            "cv_f1_macro": ungated_f1,
            "clean_rows_flagged": float(ungated_flags.mean()) if len(ungated_flags) else 0.0,
        },
        "tried": tried,
        "clean_rows": len(ungated_flags),
        "strength": chosen,
    }


def choose_mixture(
    member_probs: Sequence[np.ndarray], labels: np.ndarray, objective: str, names: Sequence[str],
    gate: int | None = None, folds: int = FOLDS, seed: int = 42,
) -> tuple[np.ndarray, float, dict, dict | None]:  # fmt: skip
    """What the ensemble stage chooses on validation: the weights (`choose_weights`; the gate member,
    index `gate`, gets 0 and is left out of the search) and, with a gate member, the gate's strength.
    Returns the weights, their objective value, the weight choice and the gate choice (or None)."""
    stacked = [np.asarray(p, dtype=np.float64) for p in member_probs]
    if gate is None:
        return (*choose_weights(stacked, labels, objective, seed), None)
    if len(stacked) < 2:
        raise InvalidInput(
            "the mention gate's member has weight 0: the ensemble needs at least one other member"
        )
    weights, value, weight_choice = choose_weights(
        stacked[:gate] + stacked[gate + 1 :], labels, objective, seed
    )
    weights = np.insert(weights, gate, 0.0)
    for key in ("best", "chosen"):  # the weights as ensemble.json lists the members, the gate's 0 included
        if key in weight_choice:
            weight_choice[key]["weights"] = np.insert(weight_choice[key]["weights"], gate, 0.0).tolist()
    _, gate_choice = choose_gate_strength(
        combine(stacked, weights), stacked[gate], labels, names, folds, seed
    )
    return weights, value, weight_choice, gate_choice


def cross_validate_selection(
    member_probs: Sequence[np.ndarray],
    labels: np.ndarray,
    choice: str,
    objective: str = "f1_macro_tuned",
    folds: int = FOLDS,
    seed: int = 42,
    names: Sequence[str] = (),
    gate: int | None = None,
) -> dict:
    """Out-of-fold macro F1 of the whole selection: weights (and the gate's strength, with a gate
    member) chosen as the ensemble stage chooses them (`choose_mixture`), then thresholds, on k-1
    folds; the held-out fold scored with all of them."""
    stacked = [np.asarray(p, dtype=np.float64) for p in member_probs]
    labels = np.asarray(labels)
    fold = fold_index(labels, folds, seed)
    fit_thresholds = threshold_fitter(choice, folds, seed)
    predictions = np.zeros(labels.shape, dtype=np.int8)
    fold_weights, fold_strengths = [], []
    for k in range(folds):
        held_out = fold == k
        weights, _, _, gate_choice = choose_mixture(
            [p[~held_out] for p in stacked], labels[~held_out], objective, names, gate, folds, seed
        )
        mixed = combine(stacked, weights)
        if gate_choice is not None:
            mixed = apply_gate(mixed, stacked[gate], gate_choice["strength"], names)
            fold_strengths.append(gate_choice["strength"])
        thresholds = fit_thresholds(mixed[~held_out], labels[~held_out])
        predictions[held_out] = binarize(mixed[held_out], thresholds)
        fold_weights.append([float(w) for w in weights])
    result = {
        "cv_f1_macro": macro_f1(predictions, labels),
        "cv_f1_macro_per_fold": per_fold_macro_f1(predictions, labels, fold),
        "fold_weights": fold_weights,
    }
    if gate is not None:
        result["fold_gate_strengths"] = fold_strengths
    return result


def choose_thresholds(
    probs: np.ndarray, labels: np.ndarray, requested: str = "auto", folds: int = FOLDS, seed: int = 42
) -> tuple[np.ndarray, dict]:
    """The thresholds to ship, and the cross-validated evidence for them.

    "tuned": every label tuned. "per_label": 0.5 kept where tuning does not beat it out of fold.
    "auto": "per_label" when its out-of-fold macro F1 is no worse than "tuned", else "tuned".
    """
    if requested not in THRESHOLD_CHOICES:
        raise InvalidInput(
            f"--threshold_choice must be one of {', '.join(THRESHOLD_CHOICES)}, got {requested!r}"
        )
    probs, labels = np.asarray(probs, dtype=np.float64), np.asarray(labels)
    cv = {
        choice: cross_validate_thresholds(probs, labels, choice, folds, seed)
        for choice in ("tuned", "per_label")
    }
    if requested == "auto":
        chosen = "per_label" if cv["per_label"]["cv_f1_macro"] >= cv["tuned"]["cv_f1_macro"] else "tuned"
    else:
        chosen = requested
    per_label, label_choice = per_label_choice(probs, labels, folds, seed)
    candidates = {"tuned": _tuned(probs, labels), "per_label": per_label}
    evidence = {
        "folds": folds,
        "seed": seed,
        "requested": requested,
        "chosen": chosen,
        "cv": cv,
        "per_label_choice": label_choice,
        "thresholds": {name: [float(t) for t in values] for name, values in candidates.items()},
    }
    return candidates[chosen], evidence


def member_thresholds(spec: EnsembleSpec, val_members: Sequence) -> list[np.ndarray]:
    """Each member's thresholds, chosen on its val predictions (`MemberPredictions`) the way the
    ensemble's were (the report's "<member> tuned")."""
    fit = shipped_threshold_fitter(spec.threshold_report)
    return [fit(m.probs, m.references) for m in val_members]


def ungated_thresholds(spec: EnsembleSpec, val_members: Sequence) -> np.ndarray | None:
    """With a mention gate: thresholds for the same mix without it, chosen on the members' val
    predictions (`MemberPredictions`) the way the ensemble's were (the reports' "ensemble without the
    gate"); None without a gate, or with one of strength 0 (the same mix)."""
    if not spec.gate_acts:
        return None
    fit = shipped_threshold_fitter(spec.threshold_report)
    return fit(spec.mix([m.probs for m in val_members], gated=False), val_members[0].references)
