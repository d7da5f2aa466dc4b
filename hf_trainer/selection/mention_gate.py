"""The mention gate: a group label needs hate that the rest of the comment shows, not a group's name.

UnSmile seldom names a group without hate (of its train comments naming a few common 인종/국적 words,
83% carry that label: docs/PERFORMANCE.md), so every member learns "group name -> group label" and flags neutral mentions
("광주 날씨 어제 엄청 춥더라" -> 지역). The gate member (`char-ngram-blind`) reads comments with the
neutral group names blinded (hf_trainer.data.group_names), so its clean score says whether the rest
of the comment is hateful or abusive. The ensemble's hate labels are scaled by that:

    hate label  <- mixed score x (1 - gate's clean score) ** strength
    clean       <- max(mixed clean score, gate's clean score)

Strength 0 is no gate. The ensemble stage chooses it on validation (cross_validation.choose_gate_strength):
the strongest gate whose out-of-fold macro F1 stays within a tolerance of the ungated ensemble's and
that flags fewer clean validation comments, because UnSmile's own labels often count a group's name with mild context as hate, and a gate that
ignores the name loses some of those rows.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from ..data.labels import UNSMILE_CLEAN, UNSMILE_HATE_LABELS
from ..utils.errors import InvalidInput

GATE_STRENGTHS = (0.1, 0.2, 0.3, 0.5, 0.75, 1.0)  # the candidates the ensemble stage tries
GATE_TOLERANCE = 0.005  # out-of-fold val macro F1 the gate may cost
UNGATED = "ensemble without the gate"  # the reports' name for the same mix without the gate
UNGATED_TUNED = f"{UNGATED} tuned"  # ... in the test report, at thresholds chosen on val


def gate_columns(labels: Sequence[str]) -> tuple[list[int], int]:
    """The columns the gate scales (the hate labels present) and the clean column."""
    labels = list(labels)
    hate = [j for j, name in enumerate(labels) if name in UNSMILE_HATE_LABELS]
    if UNSMILE_CLEAN not in labels or not hate:
        raise InvalidInput(
            f"the mention gate needs a {UNSMILE_CLEAN!r} label and at least one of UnSmile's hate labels, "
            f"got {labels}"
        )
    return hate, labels.index(UNSMILE_CLEAN)


def apply_gate(
    mixed: np.ndarray, gate_probs: np.ndarray, strength: float, labels: Sequence[str]
) -> np.ndarray:
    """The ensemble's scores with the gate applied (a copy; strength 0 returns them unchanged)."""
    mixed = np.asarray(mixed, dtype=np.float64)
    if strength == 0:
        return mixed
    hate, clean = gate_columns(labels)
    gate_clean = np.clip(np.asarray(gate_probs, dtype=np.float64)[:, clean], 0.0, 1.0)
    gated = mixed.copy()
    gated[:, hate] *= ((1.0 - gate_clean) ** strength)[:, None]
    gated[:, clean] = np.maximum(mixed[:, clean], gate_clean)
    return gated


def gate_sentence(gate: dict) -> str:
    """What a gate does, in words (the report and the model card)."""
    return (
        f"{gate['member']} (weight 0) reads comments with the neutral names of groups blinded; the hate labels "
        f"are multiplied by its hate score (1 - its clean score) to the power {gate['strength']:g}, and clean "
        "is at least its clean score, so a group's name alone weighs less than what the rest of the comment says"
    )


def check_gate(gate: dict, members: Sequence[dict], labels: Sequence[str], source: str) -> None:
    """ensemble.json's "gate": one of the members, of weight 0, a finite strength >= 0, and labels
    it can act on; InvalidInput naming `source` otherwise."""
    names = [m.get("name") for m in members]
    if not isinstance(gate, dict) or gate.get("member") not in names:
        raise InvalidInput(f"{source}: 'gate' must name one of the members {names}, got {gate!r}")
    strength = gate.get("strength")
    if not isinstance(strength, int | float) or not math.isfinite(strength) or strength < 0:
        raise InvalidInput(f"{source}: the gate's strength must be a finite number >= 0, got {strength!r}")
    if members[names.index(gate["member"])]["weight"] != 0:
        raise InvalidInput(f"{source}: the gate member {gate['member']!r} must have weight 0")
    try:
        gate_columns(labels)
    except InvalidInput as err:
        raise InvalidInput(f"{source}: {err}") from None
