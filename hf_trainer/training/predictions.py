"""The predictions-file contract between the stages: a member's `predictions/<split>.npz` (sigmoid
`probs`, gold `labels`, row `ids`, `label_names`), written by training and read, checked to cover
the same rows, by the ensemble, thresholds and test-evaluation stages."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..data.labels import LabelSchema
from ..utils import io
from ..utils.errors import InputNotFound, InvalidInput


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
        if member_dir is None:
            raise InputNotFound(
                "a member known only by its Hub id has no predictions here: this step needs every member's "
                "local folder (train it, or download its folder, and name it in ensemble.json)"
            )
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
