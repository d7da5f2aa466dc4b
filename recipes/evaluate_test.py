"""Score the test split once: the ensemble (weights + thresholds from validation) and each member.

    python recipes/evaluate_test.py --ensemble_dir outputs/ensemble [--force]

Writes <ensemble_dir>/report/: test_metrics.json, report.md and PNG plots. A second run refuses
unless --force: the test split is for the final number, not for choosing anything.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from transformers import HfArgumentParser

from hf_trainer import io
from hf_trainer.configs import EnsembleDirArguments
from hf_trainer.ensemble import EnsembleSpec, combine, load_aligned, predictions_path
from hf_trainer.log import setup_logging
from hf_trainer.metrics import multilabel_metrics
from hf_trainer.report import plot_f1_bars, plot_threshold_curves, plot_training_curves, write_report_md
from hf_trainer.thresholds import tune_thresholds

logger = logging.getLogger("hf_trainer.evaluate_test")

REPORT_DIR = "report"
METRICS_FILE = "test_metrics.json"


def main(argv: list[str] | None = None) -> dict:
    (args,) = HfArgumentParser(EnsembleDirArguments).parse_args_into_dataclasses(args=argv)
    setup_logging()
    folder = Path(args.ensemble_dir)
    report_dir = folder / REPORT_DIR
    metrics_file = report_dir / METRICS_FILE
    if metrics_file.exists() and not args.force:
        done = io.read_json(metrics_file).get("evaluated_at", "an earlier run")
        raise SystemExit(
            f"The test split was already evaluated ({done}; {metrics_file}). It is meant to be scored once; "
            "pass --force to evaluate it again and replace the report."
        )
    spec = EnsembleSpec.load(folder)
    if spec.thresholds is None:
        raise SystemExit(f"{folder / 'ensemble.json'} has no thresholds yet: run recipes/thresholds.py first")
    member_dirs = spec.member_dirs(folder)
    val = load_aligned(member_dirs, "val")
    test = load_aligned(member_dirs, "test")
    names, labels = spec.labels, test[0].labels

    systems: dict[str, dict] = {}
    for entry, member_val, member_test in zip(spec.members, val, test, strict=True):
        own_thresholds, _ = tune_thresholds(member_val.probs, member_val.labels)
        systems[f"{entry['name']} @0.5"] = multilabel_metrics(member_test.probs, labels, names, 0.5)
        systems[f"{entry['name']} tuned"] = multilabel_metrics(
            member_test.probs, labels, names, own_thresholds
        )
    ensemble_test = combine([m.probs for m in test], spec.weights)
    systems["ensemble @0.5"] = multilabel_metrics(ensemble_test, labels, names, 0.5)
    systems["ensemble tuned"] = multilabel_metrics(ensemble_test, labels, names, spec.thresholds)

    report_dir.mkdir(parents=True, exist_ok=True)
    bars = {k: v for k, v in systems.items() if k.endswith("tuned")} | {
        "ensemble @0.5": systems["ensemble @0.5"]
    }
    plots = [
        plot_f1_bars(report_dir / "f1_per_label.png", bars, names).name,
        plot_threshold_curves(
            report_dir / "threshold_curves.png",
            combine([m.probs for m in val], spec.weights),
            val[0].labels,
            spec.thresholds,
            names,
        ).name,
    ]
    histories = {
        entry["name"]: io.read_json(d / "trainer_state.json")["log_history"]
        for entry, d in zip(spec.members, member_dirs, strict=True)
        if (d / "trainer_state.json").is_file()
    }
    if histories:
        plots.append(plot_training_curves(report_dir / "training_curves.png", histories).name)

    inputs = [folder / "ensemble.json"] + [
        predictions_path(d, s) for d in member_dirs for s in ("val", "test")
    ]
    meta = {
        "evaluated_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "test_rows": len(labels),
        "inputs": {os.path.relpath(p, folder): io.sha256_file(p) for p in inputs},
    }
    write_report_md(
        report_dir / "report.md",
        systems=systems,
        primary="ensemble tuned",
        labels=names,
        meta=meta,
        plots=plots,
    )
    result = {
        **meta,
        "weights": dict(zip([m["name"] for m in spec.members], spec.weights.tolist(), strict=True)),
        "thresholds": dict(zip(names, spec.thresholds, strict=True)),
        "systems": systems,
    }
    io.write_json(metrics_file, result)  # written last: its presence marks the one evaluation as done
    logger.info(
        "Test macro F1: ensemble %.4f at 0.5, %.4f tuned (micro %.4f); report in %s",
        systems["ensemble @0.5"]["f1_macro"],
        systems["ensemble tuned"]["f1_macro"],
        systems["ensemble tuned"]["f1_micro"],
        report_dir,
    )
    return result


if __name__ == "__main__":
    main()
