"""Does it work on my comments? Scores a labelled file from another source, whose labels are not
UnSmile's, through a map from its labels to UnSmile's (`recipes/evaluate_external.py`).

Not a test evaluation of the UnSmile split: nothing is counted in the test-once record and nothing is
chosen on it. The file is a TSV with a header, a text column and a label column whose cells list the
row's labels (comma-separated; empty: none). The map (JSON) sends each of its labels to an UnSmile
label or to "clean" (not hate); many to one is allowed; a label the map does not name counts as
"hate, no group": hate in the binary figures, no UnSmile label. Binary hate: any of UnSmile's eight
hate labels (the seven groups and 기타 혐오); 악플/욕설 is abuse, not hate.
"""

from __future__ import annotations

import csv
import io as text_io
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..data.labels import UNSMILE_CLEAN as CLEAN
from ..data.labels import UNSMILE_HATE_LABELS as HATE_LABELS
from ..data.labels import UNSMILE_LABELS
from ..metrics.multilabel import f1_scores
from ..metrics.uncertainty import interval, resample_counts
from ..utils import io
from ..utils.errors import InputNotFound, InvalidInput

logger = logging.getLogger(__name__)

EXTERNAL_FILE, ERRORS_FILE, PLOT_FILE = (
    "external_metrics.json",
    "external_errors.tsv",
    "external_calibration.png",
)
ERRORS_LIMIT = 50  # errors of each kind in external_errors.tsv


def read_label_map(path: str | Path, labels: Sequence[str] = UNSMILE_LABELS) -> dict[str, str]:
    """{their label: an UnSmile label or "clean"}, checked: every value must be one of `labels`. Keys
    are stripped of spaces, as the file's label cells are."""
    mapping = io.read_json(path)
    if not isinstance(mapping, dict) or not mapping:
        raise InvalidInput(f"{path}: a label map is a JSON object {{their label: UnSmile label}}")
    unknown = {k: v for k, v in mapping.items() if v not in labels}
    if unknown:
        key, value = next(iter(unknown.items()))
        raise InvalidInput(f"{path}: '{key}' maps to {value!r}, not one of {', '.join(labels)}")
    stripped = {str(k).strip(): str(v) for k, v in mapping.items()}
    if len(stripped) < len(mapping) or "" in stripped:
        raise InvalidInput(
            f"{path}: two keys are the same label once their spaces are stripped, or one is empty"
        )
    return stripped


@dataclass
class LabelledFile:
    """A labelled file's rows: texts, each row's own labels, and the line each row came from."""

    texts: list[str]
    labels: list[list[str]]
    lines: list[int]


def read_labelled_file(path: str | Path, text_column: str, label_column: str) -> LabelledFile:
    """Texts and their own labels from a TSV with a header (blank lines skipped); a bad row names its
    line and column."""
    if not Path(path).is_file():
        raise InputNotFound(f"--data {path} not found")
    with open(path, "rb") as handle:
        lines = list(io.read_lines(handle))
    header = lines[0].split("\t") if lines else []
    for column in (text_column, label_column):
        if column not in header:
            raise InvalidInput(f"{path}, line 1: no column '{column}' in the header {header}")
    t, y = header.index(text_column), header.index(label_column)
    rows = LabelledFile([], [], [])
    for number, line in enumerate(lines[1:], start=2):
        if not line.strip():
            continue
        fields = line.split("\t")
        if len(fields) != len(header):
            raise InvalidInput(f"{path}, line {number}: {len(fields)} fields, {len(header)} expected")
        if not fields[t].strip():
            column = sum(len(f) + 1 for f in fields[:t]) + 1
            raise InvalidInput(f"{path}, line {number}, column {column}: the '{text_column}' cell is empty")
        rows.texts.append(fields[t])
        rows.labels.append([name.strip() for name in fields[y].split(",") if name.strip()])
        rows.lines.append(number)
    if not rows.texts:
        raise InvalidInput(f"{path}: no labelled rows")
    return rows


def gold_matrix(
    labels: Sequence[Sequence[str]], mapping: dict[str, str]
) -> tuple[np.ndarray, np.ndarray, dict]:
    """UnSmile 0/1 gold (rows x UnSmile labels), binary hate gold, and how each of their labels was read."""
    index = {name: j for j, name in enumerate(UNSMILE_LABELS)}
    gold = np.zeros((len(labels), len(UNSMILE_LABELS)), dtype=np.int8)
    hate = np.zeros(len(labels), dtype=bool)
    unmapped: dict[str, int] = {}
    for row, names in enumerate(labels):
        for name in names:
            target = mapping.get(name)
            if target is None:  # not in the map: hate, no group
                unmapped[name] = unmapped.get(name, 0) + 1
                hate[row] = True
            elif target != CLEAN:
                gold[row, index[target]] = 1
                hate[row] |= target in HATE_LABELS
    return gold, hate, {"unmapped_labels": unmapped}


def binary_figures(predicted: np.ndarray, gold: np.ndarray, counts: np.ndarray) -> dict:
    """Precision, recall and F1 of hate/not hate, each with its 95% bootstrap interval."""
    pred, ref = predicted.astype(np.float64), gold.astype(np.float64)
    weights = np.vstack([np.ones(len(pred)), counts])  # row 0: the file itself; then the resamples
    tp, fp, fn = weights @ (pred * ref), weights @ (pred * (1 - ref)), weights @ ((1 - pred) * ref)

    def ratio(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return np.divide(a, b, out=np.zeros_like(a), where=b > 0)

    figures = {
        "precision": ratio(tp, tp + fp),
        "recall": ratio(tp, tp + fn),
        "f1": ratio(2 * tp, 2 * tp + fp + fn),
    }
    return {k: {"value": float(v[0]), "ci": interval(v[1:])} for k, v in figures.items()} | {
        "hate_rows": int(gold.sum()), "flagged_rows": int(predicted.sum()),
    }  # fmt: skip


def external_evaluation(ensemble, texts: list[str], labels: list[list[str]], mapping: dict[str, str],
                        resamples: int = 1000, seed: int = 42) -> tuple[dict, np.ndarray, np.ndarray, np.ndarray]:  # fmt: skip
    """Per mapped UnSmile label and binary hate figures with intervals; returns them, the scores, the
    UnSmile gold and the binary hate gold."""
    if list(ensemble.labels) != list(UNSMILE_LABELS):
        raise InvalidInput(
            f"the ensemble's labels {ensemble.labels} are not UnSmile's; the map is to UnSmile's"
        )
    gold, hate, how = gold_matrix(labels, mapping)
    if how["unmapped_labels"]:
        # A typo in the map turns every row with that label into hate, so say which labels these are.
        logger.warning(
            "Labels the map does not name, counted as hate with no group: %s",
            ", ".join(f"{name!r} ({rows} rows)" for name, rows in how["unmapped_labels"].items()),
        )
    logger.info("Scoring %d comments", len(texts))
    probs = ensemble.predict_proba(texts)
    decided = probs >= ensemble.thresholds
    counts = resample_counts(len(texts), resamples, seed)
    mapped = sorted({v for v in mapping.values() if v != CLEAN}, key=UNSMILE_LABELS.index)
    per_label = {}
    # Row 0 weighs every row once (the file itself), the others are the bootstrap resamples.
    f1 = f1_scores(decided.astype(np.int8), gold, np.vstack([np.ones(len(texts)), counts]))["per_label"]
    point, samples = f1[0], f1[1:]
    for name in mapped:
        j = UNSMILE_LABELS.index(name)
        support = int(gold[:, j].sum())
        if support == 0:  # an F1 of 0 here would read as a failure of the model, not of the file
            logger.warning("%s: mapped to, but no row of the file has it; no F1 for it", name)
            per_label[name] = {"f1": None, "ci": None, "support": 0, "flagged": int(decided[:, j].sum())}
            continue
        per_label[name] = {"f1": float(point[j]), "ci": interval(samples[:, j]), "support": support}
    predicted_hate = decided[:, [UNSMILE_LABELS.index(n) for n in HATE_LABELS]].any(axis=1)
    result = {
        "rows": len(texts), "resamples": resamples, "per_label": per_label,
        "binary_hate": binary_figures(predicted_hate, hate, counts), **how,
        "note": "not a test evaluation of the UnSmile split: nothing was counted or chosen on it",
    }  # fmt: skip
    return result, probs, gold, hate


def errors_tsv(path: Path, rows: LabelledFile, hate: np.ndarray, probs: np.ndarray, thresholds: np.ndarray,
               limit: int = ERRORS_LIMIT) -> Path:  # fmt: skip
    """The binary errors, most confident first, at most `limit` of each kind: missed hate and flagged
    non-hate, with the line of the file each came from and its margin over the threshold."""
    texts, labels = rows.texts, rows.labels
    index = [UNSMILE_LABELS.index(n) for n in HATE_LABELS]
    margin = (probs[:, index] - thresholds[index]).max(axis=1)  # > 0: flagged as hate
    found = []
    for error, wrong in (("false positive", (margin >= 0) & ~hate), ("false negative", (margin < 0) & hate)):
        order = np.flatnonzero(wrong)[np.argsort(-np.abs(margin[wrong]))][:limit]
        found += [[error, rows.lines[i], f"{margin[i]:+.3f}", ",".join(labels[i]), texts[i]] for i in order]
    buffer = text_io.StringIO()
    writer = csv.writer(buffer, delimiter="\t", lineterminator="\n")
    writer.writerow(["error", "line", "margin", "their_labels", "text"])
    writer.writerows(found)
    io.write_text(path, buffer.getvalue())
    return path
