"""Errors a person can read: the worst false positives and false negatives per label, with their
texts, and which labels the model mixes up."""

from __future__ import annotations

import csv
import io as text_io
import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ..metrics.multilabel import binarize
from ..utils import io

logger = logging.getLogger(__name__)

ERRORS_COLUMNS = ("label", "error", "rank", "id", "score", "threshold", "gold", "predicted", "text", "spans")


def error_rows(
    probs: np.ndarray,
    references: np.ndarray,
    thresholds: Sequence[float],
    ids: np.ndarray,
    label_names: Sequence[str],
    texts: dict[int, str] | None,
    per_label: int = 20,
) -> list[dict]:
    """Per label: the `per_label` highest-scoring false positives and lowest-scoring false negatives."""
    predicted = binarize(probs, thresholds).astype(bool)
    gold = np.asarray(references) >= 0.5
    rows = []

    def names(mask: np.ndarray) -> str:
        return ", ".join(name for name, on in zip(label_names, mask, strict=True) if on)

    for j, label in enumerate(label_names):
        scores = np.asarray(probs[:, j], dtype=np.float64)
        false_positive = np.flatnonzero(predicted[:, j] & ~gold[:, j])
        false_negative = np.flatnonzero(~predicted[:, j] & gold[:, j])
        worst = (
            ("false positive", false_positive[np.argsort(-scores[false_positive], kind="stable")]),
            ("false negative", false_negative[np.argsort(scores[false_negative], kind="stable")]),
        )
        for kind, order in worst:
            for rank, i in enumerate(order[:per_label], start=1):
                rows.append(
                    {
                        "label": label,
                        "error": kind,
                        "rank": rank,
                        "id": int(ids[i]),
                        "score": round(float(scores[i]), 4),
                        "threshold": round(float(thresholds[j]), 4),
                        "gold": names(gold[i]),
                        "predicted": names(predicted[i]),
                        "text": "" if texts is None else texts.get(int(ids[i]), ""),
                        "spans": "",  # explain.explain_error_rows fills it in
                    }
                )
    return rows


def write_errors_tsv(path: Path, rows: Sequence[dict]) -> Path:
    """A TSV a spreadsheet opens: tabs and line breaks inside a comment become spaces."""
    buffer = text_io.StringIO()
    writer = csv.writer(buffer, delimiter="\t", lineterminator="\n", quoting=csv.QUOTE_MINIMAL)
    writer.writerow(ERRORS_COLUMNS)
    for row in rows:
        writer.writerow([" ".join(str(row[c]).split()) if c == "text" else row[c] for c in ERRORS_COLUMNS])
    io.write_text(path, buffer.getvalue())
    return path


def label_confusion(predictions: np.ndarray, references: np.ndarray) -> dict[str, np.ndarray]:
    """Which labels are mixed up. rate[i, j], among comments whose gold labels include i: on the
    diagonal the share predicted i (recall); off it, the share predicted j although j is not gold.
    Also the counts behind it, and how often gold labels i and j occur together."""
    pred = np.asarray(predictions) >= 0.5
    gold = np.asarray(references) >= 0.5
    support = gold.sum(axis=0).astype(np.float64)
    wrongly_on = (pred & ~gold).astype(np.float64)
    counts = gold.T.astype(np.float64) @ wrongly_on
    np.fill_diagonal(counts, (pred & gold).sum(axis=0))
    rate = np.divide(counts, support[:, None], out=np.zeros_like(counts), where=support[:, None] > 0)
    return {"rate": rate, "counts": counts, "gold_cooccurrence": gold.T.astype(np.float64) @ gold}


def top_confusions(
    confusion: dict[str, np.ndarray], label_names: Sequence[str], limit: int = 10
) -> list[dict]:
    """The largest off-diagonal rates: "of comments labelled A, x% were also flagged B (not gold)"."""
    rate, counts = confusion["rate"], confusion["counts"]
    pairs = [(i, j) for i in range(len(label_names)) for j in range(len(label_names)) if i != j]
    pairs.sort(key=lambda p: -rate[p])
    return [
        {
            "gold": label_names[i],
            "also_predicted": label_names[j],
            "rate": float(rate[i, j]),
            "count": int(counts[i, j]),
        }
        for i, j in pairs[:limit]
        if counts[i, j] > 0
    ]
