"""Item 3: ensemble weights + thresholds for three members on the validation split; item 4's
thresholds stage (with its cross-validation) and the whole one-shot test evaluation
(recipes/evaluate_test.py as a user runs it: report, intervals, plots, errors.tsv)."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from hf_trainer.data.labels import LabelSchema
from hf_trainer.data.loading import save_prepared_splits
from hf_trainer.evaluation.test_once import METRICS_FILE, REPORT_DIR
from hf_trainer.selection.thresholds import tune_thresholds
from hf_trainer.selection.weight_search import choose_weights, combine
from hf_trainer.training.predictions import save_predictions
from hf_trainer.utils import io

RECIPES = Path(__file__).resolve().parent.parent


def run(splits, args) -> dict:
    evaluation = test_evaluation_timing(splits)
    return {
        "ensemble_thresholds_s": ensemble_timing(splits)["seconds"],
        "evaluation": evaluation,
        "thresholds_s": evaluation["thresholds_s"],
        "test_evaluation_s": evaluation["test_evaluation_s"],
        # The analysis in the evaluation (intervals, CV table, calibration, errors, plots): total - scoring.
        "test_evaluation_analysis_s": evaluation["inside"]["total"] - evaluation["inside"]["scoring"],
    }


def rows(result: dict) -> list[tuple[str, str]]:
    return [
        ("ensemble weights + thresholds (3 members)", f"{result['ensemble_thresholds_s']:.3f} s"),
        ("thresholds stage, with 5-fold cross-validation (3 members)", f"{result['thresholds_s']:.1f} s"),
        (
            "one-shot test evaluation (3 members), analysis and plots in it",
            f"{result['test_evaluation_s']:.1f} s, {result['test_evaluation_analysis_s']:.1f} s "
            f"({result['evaluation']['test_rows']} test rows)",
        ),
    ]


def ensemble_timing(splits) -> dict:
    """Weights + thresholds for three members on the real validation labels (member scores synthetic)."""
    labels = np.asarray(splits["validation"]["labels"], dtype=np.float32)
    rng = np.random.default_rng(0)
    members = [
        np.clip(labels * rng.uniform(0.3, 0.6) + rng.random(labels.shape) * 0.6, 0, 1) for _ in range(3)
    ]
    start = time.perf_counter()
    weights, _, _ = choose_weights(members, labels)
    tune_thresholds(combine(members, weights), labels)
    return {"seconds": time.perf_counter() - start, "val_rows": len(labels), "members": 3}


def test_evaluation_timing(splits) -> dict:
    """thresholds.py and evaluate_test.py, each run as a user runs it (a fresh Python process), on a
    three-member ensemble whose member scores are synthetic but whose rows, ids and texts are real."""
    schema = LabelSchema()
    work = Path(tempfile.mkdtemp(prefix="bench_eval_"))
    rng = np.random.default_rng(0)
    try:
        save_prepared_splits(
            splits, {"rows": {k: len(v) for k, v in splits.items()}}, list(schema.names), work / "data"
        )
        members = []
        for i in range(3):
            member = work / f"member{i}"
            strength = rng.uniform(0.3, 0.6)
            for split, name in (("validation", "val"), ("test", "test")):
                labels = np.asarray(splits[split]["labels"], dtype=np.float32)
                probs = np.clip(labels * strength + rng.random(labels.shape) * 0.6, 0, 1)
                save_predictions(member, name, splits[split]["id"], probs, labels, schema)
            io.write_json(member / "run_config.json", {"data": {"prepared_data_dir": str(work / "data")}})
            members.append(str(member))
        ensemble = str(work / "ensemble")
        seconds = {}
        for name, args in (
            ("ensemble", ["ensemble.py", "--members", *members, "--output_dir", ensemble]),
            ("thresholds", ["thresholds.py", "--ensemble_dir", ensemble]),
            ("test_evaluation", ["evaluate_test.py", "--ensemble_dir", ensemble]),
        ):
            start = time.perf_counter()
            subprocess.run(
                [sys.executable, str(RECIPES / args[0]), *args[1:]], check=True, capture_output=True
            )
            seconds[name] = time.perf_counter() - start
        metrics = io.read_json(work / "ensemble" / REPORT_DIR / METRICS_FILE)
        return {
            "thresholds_s": seconds["thresholds"],
            "test_evaluation_s": seconds["test_evaluation"],
            "inside": metrics["seconds"],  # as measured by the recipe: scoring, and everything
            "val_rows": len(splits["validation"]),
            "test_rows": metrics["test_rows"],
        }
    finally:
        shutil.rmtree(work, ignore_errors=True)
