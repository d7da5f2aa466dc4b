"""Ensemble weights: a weighted mean of member probabilities, weights searched on the simplex.

The objective is val macro F1 with per-label thresholds tuned for each candidate (the final
predictions use tuned thresholds, so that is what to maximise; the exact threshold search makes a
candidate cost about a millisecond), or the log loss of the mixed probabilities.
"""

from __future__ import annotations

import itertools
import logging
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np

from . import io
from .calibration import apply_temperature
from .errors import InputNotFound, InvalidInput
from .labels import LabelSchema
from .thresholds import tuned_macro_f1

logger = logging.getLogger(__name__)

OBJECTIVES = ("f1_macro_tuned", "logloss")


def predictions_path(member_dir: str | Path, split: str) -> Path:
    """Where a training run writes, and the later stages read, one split's probabilities."""
    return Path(member_dir) / "predictions" / f"{split}.npz"


def save_predictions(
    output_dir: str | Path,
    split: str,
    ids: list[int],
    probs: np.ndarray,
    labels: np.ndarray,
    schema: LabelSchema,
) -> Path:
    """Write `predictions/<split>.npz`: sigmoid `probs`, `labels`, row `ids`, `label_names`."""
    if not (len(ids) == len(probs) == len(labels)):
        raise InvalidInput(
            f"{split}: {len(ids)} ids, {len(probs)} probability rows, {len(labels)} label rows"
        )
    path = predictions_path(output_dir, split)
    io.write_npz(
        path,
        probs=probs.astype(np.float32),
        labels=labels.astype(np.float32),
        ids=np.asarray(ids, dtype=np.int64),
        label_names=np.asarray(schema.names),
    )
    return path


@dataclass
class MemberPredictions:
    """One member's saved probabilities for one split (`predictions/<split>.npz`)."""

    name: str
    path: str
    probs: np.ndarray
    references: np.ndarray  # the 0/1 gold labels of each row (the file's `labels` array)
    ids: np.ndarray
    label_names: tuple[str, ...]

    @classmethod
    def load(cls, member_dir: str | Path, split: str) -> MemberPredictions:
        file = predictions_path(member_dir, split)
        if not file.is_file():
            raise InputNotFound(f"{file} not found: train this member first (recipes/train.py)")
        with np.load(file, allow_pickle=False) as data:
            missing = {"probs", "labels", "ids", "label_names"} - set(data.files)
            if missing:
                raise InvalidInput(f"{file} lacks the arrays {sorted(missing)}")
            return cls(
                Path(member_dir).name,
                str(member_dir),
                data["probs"].astype(np.float64),
                data["labels"].astype(np.float32),
                data["ids"],
                tuple(str(x) for x in data["label_names"]),
            )


def check_aligned(members: Sequence[MemberPredictions]) -> None:
    """All members must cover the same rows, in the same order, with the same labels."""
    if not members:
        raise InvalidInput("an ensemble needs at least one member")
    first = members[0]
    by_name: dict[str, str] = {}
    for member in members:
        if member.name in by_name:
            raise InvalidInput(
                f"two members share the folder name '{member.name}' ({by_name[member.name]} and {member.path}): "
                "the name keys the member in ensemble.json, the report and the ONNX copies; rename one folder"
            )
        by_name[member.name] = member.path
    for other in members[1:]:
        where = f"{other.path} vs {first.path}"
        if other.label_names != first.label_names:
            raise InvalidInput(f"label names differ ({where}): {other.label_names} != {first.label_names}")
        if other.ids.shape != first.ids.shape or not np.array_equal(other.ids, first.ids):
            raise InvalidInput(
                f"row ids differ ({where}): the members were predicted on different rows or orders; "
                "train all members with the same data, --split_seed and --max_eval_samples"
            )
        if not np.array_equal(other.references, first.references):
            raise InvalidInput(f"reference labels differ for the same row ids ({where})")


def load_aligned(member_dirs: Sequence[str | Path], split: str) -> list[MemberPredictions]:
    """Every member's `predictions/<split>.npz`, checked to cover the same rows and labels."""
    members = [MemberPredictions.load(d, split) for d in member_dirs]
    check_aligned(members)
    return members


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
        for w in candidates:
            s = score(np.tensordot(w, stacked, axes=1), labels, objective)
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


ENSEMBLE_FILE = "ensemble.json"
FORMAT_VERSION = 1


@dataclass
class EnsembleSpec:
    """The content of `ensemble.json`: what the inference side needs, and where it came from."""

    labels: list[str]
    members: list[dict]  # {"name", "path" (relative to the ensemble folder), "hub_id", "weight", ...}
    objective: str
    objective_value: float
    thresholds: list[float] | None = None
    threshold_report: dict | None = None
    val_rows: int | None = None
    format_version: int = FORMAT_VERSION

    @property
    def weights(self) -> np.ndarray:
        return np.array([m["weight"] for m in self.members], dtype=np.float64)

    @property
    def temperatures(self) -> list[float]:
        """Each member's temperature (`--calibrate temperature`; 1.0 = its scores as they are)."""
        return [m.get("temperature", 1.0) for m in self.members]

    def calibrated(self, member_probs: Sequence[np.ndarray]) -> list[np.ndarray]:
        """Each member's scores at its temperature (float64), in member order."""
        if len(member_probs) != len(self.members):
            raise InvalidInput(f"{len(member_probs)} members' scores for {len(self.members)} members")
        return [apply_temperature(p, t) for p, t in zip(member_probs, self.temperatures, strict=True)]

    def mix(self, member_probs: Sequence[np.ndarray]) -> np.ndarray:
        """The ensemble's scores: each member's scores at its temperature, then the weighted mean.
        Every stage after the weight search (thresholds, test, inference) mixes through here."""
        return combine(self.calibrated(member_probs), self.weights)

    def validate(self, source: str = ENSEMBLE_FILE) -> None:
        if self.format_version != FORMAT_VERSION:
            raise InvalidInput(
                f"{source}: format_version {self.format_version} is not supported ({FORMAT_VERSION})"
            )
        if not self.labels or not self.members:
            raise InvalidInput(f"{source}: needs non-empty 'labels' and 'members'")
        for i, member in enumerate(self.members):
            if (
                not isinstance(member, dict)
                or "weight" not in member
                or not (member.get("path") or member.get("hub_id"))
            ):
                raise InvalidInput(f"{source}: member {i} needs a 'weight' and a 'path' or 'hub_id'")
        names = [member.get("name") for member in self.members]
        if not all(isinstance(n, str) and n for n in names) or len(set(names)) != len(names):
            raise InvalidInput(f"{source}: every member needs a 'name' of its own, got {names}")
        temperatures = self.temperatures
        if not all(isinstance(t, int | float) and math.isfinite(t) and t > 0 for t in temperatures):
            raise InvalidInput(
                f"{source}: member temperatures must be finite numbers > 0, got {temperatures}"
            )
        weights = self.weights
        if np.any(weights < 0) or abs(weights.sum() - 1.0) > 1e-6:
            raise InvalidInput(f"{source}: member weights must be >= 0 and sum to 1, got {weights.tolist()}")
        if self.thresholds is not None and len(self.thresholds) != len(self.labels):
            raise InvalidInput(f"{source}: {len(self.thresholds)} thresholds for {len(self.labels)} labels")

    def to_dict(self) -> dict:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @classmethod
    def from_dict(cls, data: dict, source: str = ENSEMBLE_FILE) -> EnsembleSpec:
        if not isinstance(data, dict):
            raise InvalidInput(f"{source}: expected a JSON object")
        required = {"labels", "members", "objective", "objective_value"}
        missing = required - set(data)
        if missing:
            raise InvalidInput(f"{source}: missing keys {sorted(missing)}")
        known = {k: data[k] for k in cls.__dataclass_fields__ if k in data}
        spec = cls(**known)
        spec.validate(source)
        return spec

    @classmethod
    def load(cls, folder: str | Path) -> EnsembleSpec:
        file = Path(folder) / ENSEMBLE_FILE
        if not file.is_file():
            raise InputNotFound(f"{file} not found: run recipes/ensemble.py first")
        return cls.from_dict(io.read_json(file), str(file))

    def save(self, folder: str | Path) -> Path:
        self.validate()
        file = Path(folder) / ENSEMBLE_FILE
        io.write_json(file, self.to_dict())
        return file

    @classmethod
    def from_members(
        cls,
        members: Sequence[MemberPredictions],
        kinds: Sequence[str],
        weights: Sequence[float],
        objective: str,
        objective_value: float,
        folder: str | Path,
        temperatures: Sequence[float] | None = None,
    ) -> EnsembleSpec:
        """A spec for the ensemble folder `folder`: member paths relative to it, weights in full
        precision (the weights found are the weights applied), each member's own val scores (as
        trained, before any temperature), its temperature, and its kind (`members.folder_kind`)."""
        from .metrics import multilabel_metrics

        first = members[0]
        entries = [
            {
                "name": member.name,
                "kind": kind,
                "path": os.path.relpath(Path(member.path).resolve(), Path(folder).resolve()),
                "hub_id": None,
                "weight": float(weight),
                "temperature": float(temperature),
                "val_f1_macro": multilabel_metrics(member.probs, member.references, first.label_names)[
                    "f1_macro"
                ],
                "val_f1_macro_tuned": tuned_macro_f1(member.probs, member.references),
            }
            for member, kind, weight, temperature in zip(
                members, kinds, weights, temperatures or [1.0] * len(members), strict=True
            )
        ]
        return cls(
            labels=list(first.label_names),
            members=entries,
            objective=objective,
            objective_value=float(objective_value),
            val_rows=len(first.references),
        )

    @classmethod
    def single_member(cls, model_dir: str | Path) -> EnsembleSpec:
        """A one-member spec for a plain trained model folder (labels from its config, thresholds 0.5)."""
        config = io.read_json(Path(model_dir) / "config.json")
        id2label = config.get("id2label") or {}
        labels = [id2label[str(i)] for i in range(len(id2label))]
        member = {"name": Path(model_dir).name, "path": ".", "hub_id": None, "weight": 1.0}
        return cls(labels=labels, members=[member], objective="none", objective_value=float("nan"))

    def member_dirs(self, folder: str | Path) -> list[Path]:
        """Local member folders, resolved relative to the ensemble folder."""
        return [(Path(folder) / m["path"]).resolve() for m in self.members]
