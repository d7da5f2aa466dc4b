"""`ensemble.json`: what an ensemble is (its members, their weights and temperatures, the labels and
thresholds) and the one way its members' scores are mixed (`EnsembleSpec.mix`)."""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np

from ..training.predictions import MemberPredictions
from ..utils import io
from ..utils.errors import InputNotFound, InvalidInput
from .calibration import apply_temperature
from .mention_gate import apply_gate, check_gate
from .thresholds import tuned_macro_f1
from .weight_search import combine

ENSEMBLE_FILE = "ensemble.json"
FORMAT_VERSION = 1
# An ensemble with a mention gate: a reader that knows no gate must refuse it, not serve it ungated.
GATED_FORMAT_VERSION = 2


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
    weight_choice: dict | None = None  # weight_search.choose_weights: the best and the chosen weights
    removal: list[dict] | None = None  # weight_search.removal_effects: what leaving each member out changes
    # The mention gate (mention_gate.py): {"member": its name (weight 0), "strength", "choice": the figures}
    gate: dict | None = None
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

    @property
    def gate_acts(self) -> bool:
        """Whether a mention gate changes the scores (one of strength 0 stays on record and does nothing)."""
        return self.gate is not None and self.gate["strength"] > 0

    @property
    def gate_index(self) -> int | None:
        """The gate member's position in `members`, or None without a gate."""
        return [m["name"] for m in self.members].index(self.gate["member"]) if self.gate else None

    def mix(
        self, member_probs: Sequence[np.ndarray], gated: bool = True, temperatures: bool = True
    ) -> np.ndarray:
        """The ensemble's scores: each member's scores at its temperature, then the weighted mean, then
        the mention gate where there is one (gated=False / temperatures=False: without it / them, for
        the reports' comparisons). Every stage after the weight search (thresholds, test, inference)
        mixes through here."""
        calibrated = (
            self.calibrated(member_probs)
            if temperatures
            else [np.asarray(p, np.float64) for p in member_probs]
        )
        mixed = combine(calibrated, self.weights)
        if self.gate_index is None or not gated:
            return mixed
        return apply_gate(mixed, calibrated[self.gate_index], self.gate["strength"], self.labels)

    def validate(self, source: str = ENSEMBLE_FILE) -> None:
        """Raise InvalidInput, naming `source`, where the spec cannot be used as it is."""
        check_spec(self, source)

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
        if (data.get("gate") is not None) != (data.get("format_version") == GATED_FORMAT_VERSION):
            raise InvalidInput(
                f"{source}: format_version {GATED_FORMAT_VERSION} goes with a 'gate', and only it"
            )
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
        self.format_version = GATED_FORMAT_VERSION if self.gate is not None else FORMAT_VERSION
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
        """A spec for the ensemble folder `folder` (`member_entry` per member; the kinds from
        `members.folder_kind`)."""
        first = members[0]
        entries = [
            member_entry(member, kind, weight, temperature, folder)
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

    def member_dirs(self, folder: str | Path) -> list[Path | None]:
        """Local member folders, resolved relative to the ensemble folder; None for a member with no
        path (known only by its Hub id)."""
        return [(Path(folder) / m["path"]).resolve() if m.get("path") else None for m in self.members]


def member_entry(
    member: MemberPredictions, kind: str, weight: float, temperature: float, folder: str | Path
) -> dict:
    """One member of ensemble.json: its name and kind, its path relative to the ensemble folder
    `folder`, its weight in full precision (the weight found is the weight applied), its temperature,
    and its own val scores as trained (before any temperature)."""
    from ..metrics.multilabel import multilabel_metrics

    return {
        "name": member.name,
        "kind": kind,
        "path": os.path.relpath(Path(member.path).resolve(), Path(folder).resolve()),
        "hub_id": None,
        "weight": float(weight),
        "temperature": float(temperature),
        "val_f1_macro": multilabel_metrics(member.probs, member.references, member.label_names)["f1_macro"],
        "val_f1_macro_tuned": tuned_macro_f1(member.probs, member.references),
    }


def check_spec(spec: EnsembleSpec, source: str = ENSEMBLE_FILE) -> None:
    """`EnsembleSpec.validate`: format, members (names, paths, weights, temperatures), thresholds, gate."""
    if spec.format_version not in (FORMAT_VERSION, GATED_FORMAT_VERSION):
        raise InvalidInput(
            f"{source}: format_version {spec.format_version} is not supported ({FORMAT_VERSION}, {GATED_FORMAT_VERSION})"
        )
    if not spec.labels or not spec.members:
        raise InvalidInput(f"{source}: needs non-empty 'labels' and 'members'")
    for i, member in enumerate(spec.members):
        if (
            not isinstance(member, dict)
            or "weight" not in member
            or not (member.get("path") or member.get("hub_id"))
        ):
            raise InvalidInput(f"{source}: member {i} needs a 'weight' and a 'path' or 'hub_id'")
    names = [member.get("name") for member in spec.members]
    if not all(isinstance(n, str) and n for n in names) or len(set(names)) != len(names):
        raise InvalidInput(f"{source}: every member needs a 'name' of its own, got {names}")
    temperatures = spec.temperatures
    if not all(isinstance(t, int | float) and math.isfinite(t) and t > 0 for t in temperatures):
        raise InvalidInput(f"{source}: member temperatures must be finite numbers > 0, got {temperatures}")
    weights = spec.weights
    if np.any(weights < 0) or abs(weights.sum() - 1.0) > 1e-6:
        raise InvalidInput(f"{source}: member weights must be >= 0 and sum to 1, got {weights.tolist()}")
    if spec.thresholds is not None and len(spec.thresholds) != len(spec.labels):
        raise InvalidInput(f"{source}: {len(spec.thresholds)} thresholds for {len(spec.labels)} labels")
    if spec.gate is not None:
        check_gate(spec.gate, spec.members, spec.labels, source)
