"""The test split is scored once: a count and a short history of test evaluations per output folder.

The record lives beside the ensemble folder (`<output_dir>/test_evaluations.json`), so it outlives
an ensemble folder that a new configuration moves aside. Scoring the test split again after a
change quietly turns it into a tuning set; so a second evaluation needs an explicit flag, every
report shows the count, and an earlier report is moved aside, never overwritten.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
from pathlib import Path

from ..utils import io
from ..utils.errors import UserError

logger = logging.getLogger(__name__)

HISTORY_FILE = "test_evaluations.json"
HISTORY_KEPT = 20
# Where the one test evaluation writes, inside the ensemble folder (read by the summary and publishing).
REPORT_DIR = "report"
REPORT_FILE = "report.md"
METRICS_FILE = "test_metrics.json"
ERRORS_FILE = "errors.tsv"  # quotes test comments: never published


class RescoreRefused(UserError):
    """The test split of this output folder was scored before and no flag allows another score."""


def history_path(ensemble_dir: str | Path) -> Path:
    return Path(ensemble_dir).resolve().parent / HISTORY_FILE


def read_history(ensemble_dir: str | Path) -> dict:
    """{"count": evaluations so far, "history": the latest entries (oldest first)}."""
    path = history_path(ensemble_dir)
    return io.read_json(path) if path.is_file() else {"count": 0, "history": []}


def refusal(history: dict, how_to_force: str) -> str:
    last = history["history"][-1] if history["history"] else {}
    return (
        f"The test split of this output folder was already scored {history['count']} time(s) (last: "
        f"{last.get('evaluated_at', '?')}, ensemble macro F1 {last.get('test_f1_macro_tuned', float('nan')):.4f}). "
        "It is meant to be scored once: choosing anything after seeing test scores turns the test split into "
        f"a tuning set and its numbers stop meaning anything. To score it again anyway, pass {how_to_force}; "
        "the report then shows how many times the test split was scored."
    )


def check_may_score(ensemble_dir: str | Path, force: bool, how_to_force: str = "--force") -> dict:
    """The history, or `RescoreRefused` when the split was scored before and `force` is off."""
    history = read_history(ensemble_dir)
    if history["count"] and not force:
        raise RescoreRefused(refusal(history, how_to_force))
    return history


def evaluation_inputs(ensemble_dir: str | Path, member_dirs) -> dict[str, str]:
    """What a test evaluation reads: ensemble.json and each member's val and test predictions, each by
    its path relative to the ensemble folder, with its SHA-256."""
    from ..training.predictions import predictions_path

    folder = Path(ensemble_dir)
    files = [folder / "ensemble.json"] + [
        predictions_path(d, s) for d in member_dirs for s in ("val", "test")
    ]
    return {os.path.relpath(p, folder): io.sha256_file(p) for p in files}


def record_evaluation(ensemble_dir: str | Path, entry: dict) -> dict:
    """Append one evaluation (count + 1, the entry timestamped); returns the new history."""
    history = read_history(ensemble_dir)
    entry = {"evaluated_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"), **entry}
    updated = {"count": history["count"] + 1, "history": [*history["history"], entry][-HISTORY_KEPT:]}
    io.write_json(history_path(ensemble_dir), updated)
    return updated
