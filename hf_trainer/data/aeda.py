"""AEDA (Karimi et al., 2021): augment text by inserting punctuation marks between words.

Only marks are inserted; every word is kept, in order. The recipe applies it to the train split
only, to rows positive for a minority label, through `datasets.Dataset.map(batched=True)`.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Sequence

import numpy as np
from datasets import Dataset

from ..utils.errors import InvalidArgument

logger = logging.getLogger(__name__)

PUNCTUATION_MARKS: tuple[str, ...] = (".", ",", "!", "?", ";", ":")


def insert_punctuation(text: str, rng: random.Random, punc_ratio: float = 0.3) -> str:
    """The AEDA operation: split on spaces, pick 1..int(punc_ratio*n + 1) distinct word positions
    and put a random mark before each chosen word."""
    words = text.split(" ")
    max_marks = min(len(words), int(punc_ratio * len(words) + 1))
    num_marks = rng.randint(1, max(1, max_marks))
    positions = set(rng.sample(range(len(words)), num_marks))
    pieces: list[str] = []
    for i, word in enumerate(words):
        if i in positions:
            pieces.append(rng.choice(PUNCTUATION_MARKS))
        pieces.append(word)
    return " ".join(pieces)


def select_minority_labels(labels: np.ndarray, max_ratio: float) -> list[int]:
    """Indices of labels whose positive ratio is above zero and below `max_ratio`."""
    if len(labels) == 0:
        return []
    ratios = (np.asarray(labels) >= 0.5).mean(axis=0)
    return [i for i, r in enumerate(ratios) if 0.0 < r < max_ratio]


def augment_minority_classes(
    dataset: Dataset,
    label_names: Sequence[str],
    *,
    max_ratio: float = 0.05,
    factor: int = 2,
    punc_ratio: float = 0.3,
    seed: int = 42,
) -> tuple[Dataset, dict[str, int]]:
    """Add `factor - 1` AEDA copies of every row positive for a label rarer than `max_ratio`.

    Returns the augmented dataset (originals first, each followed by its copies, with an
    `augmented` flag column) and the number of rows added per selected label. Each copy draws from
    its own RNG seeded by (seed, row id, copy number), so the result does not depend on batching.
    """
    if factor < 1:
        raise InvalidArgument(f"aeda_factor must be >= 1, got {factor}")
    labels = np.asarray(dataset["labels"], dtype=np.float32)
    minority = select_minority_labels(labels, max_ratio)
    if "augmented" not in dataset.column_names:
        dataset = dataset.add_column("augmented", [False] * len(dataset))
    if factor == 1 or not minority:
        logger.info("AEDA: no label below positive ratio %.3f (or factor 1); nothing added", max_ratio)
        return dataset, {}

    def augment_batch(batch: dict[str, list]) -> dict[str, list]:
        out: dict[str, list] = {key: [] for key in batch}
        for row in range(len(batch["text"])):
            for key in batch:
                out[key].append(batch[key][row])
            if batch["augmented"][row] or not any(batch["labels"][row][j] >= 0.5 for j in minority):
                continue
            for copy in range(1, factor):
                rng = random.Random(f"aeda-{seed}-{batch['id'][row]}-{copy}")
                for key in batch:
                    out[key].append(batch[key][row])
                out["text"][-1] = insert_punctuation(batch["text"][row], rng, punc_ratio)
                out["augmented"][-1] = True
        return out

    augmented = dataset.map(augment_batch, batched=True, desc="AEDA augmentation")
    flags = np.asarray(augmented["augmented"], dtype=bool)
    new_labels = np.asarray(augmented["labels"], dtype=np.float32)[flags] >= 0.5
    added = {label_names[j]: int(new_labels[:, j].sum()) for j in minority}
    logger.info(
        "AEDA (factor %d) on labels with positive ratio < %.3f: %s; train rows %d -> %d",
        factor,
        max_ratio,
        ", ".join(f"{name} +{n}" for name, n in added.items()),
        len(dataset),
        len(augmented),
    )
    return augmented, added


def original_rows(dataset: Dataset) -> Dataset:
    """The rows of `dataset` that AEDA did not add (all of them when it added none)."""
    if "augmented" not in dataset.column_names:
        return dataset
    return dataset.filter(lambda row: not row["augmented"])
