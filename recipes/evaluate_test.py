"""Score the test split once: the ensemble (weights + thresholds from validation) and each member.

    python recipes/evaluate_test.py --ensemble_dir outputs/ensemble [--force]

Writes <ensemble_dir>/report/: test_metrics.json, report.md and PNG plots, and counts the evaluation
in <ensemble_dir>/../test_evaluations.json. A second evaluation for the same output folder (even of
a new ensemble) refuses unless --force: the test split is for the final number, not for choosing
anything. With --force an earlier report is moved aside (report.old-<time>), never overwritten, and
the new report shows how many times the test split was scored.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from hf_trainer import io
from hf_trainer.configs import EnsembleDirArguments, RecipeArgumentParser
from hf_trainer.ensemble import EnsembleSpec, combine, load_aligned, predictions_path
from hf_trainer.errors import UserError, run_recipe
from hf_trainer.evaluation import RescoreRefused, check_may_score, record_evaluation, refusal
from hf_trainer.log import setup_logging
from hf_trainer.metrics import multilabel_metrics
from hf_trainer.report import plot_f1_bars, plot_threshold_curves, plot_training_curves, write_report_md
from hf_trainer.thresholds import tune_thresholds

logger = logging.getLogger("hf_trainer.evaluate_test")

REPORT_DIR = "report"
METRICS_FILE = "test_metrics.json"


def main(argv: list[str] | None = None) -> dict:
    (args,) = RecipeArgumentParser((EnsembleDirArguments,)).parse(argv)
    setup_logging()
    folder = Path(args.ensemble_dir)
    report_dir = folder / REPORT_DIR
    spec = EnsembleSpec.load(folder)
    if spec.thresholds is None:
        raise UserError(f"{folder / 'ensemble.json'} has no thresholds yet: run recipes/thresholds.py first")
    history = check_may_score(folder, args.force)
    if (report_dir / METRICS_FILE).exists() and not args.force:  # scored before the count existed
        raise RescoreRefused(refusal({"count": 1, "history": []}, "--force"))
    member_dirs = spec.member_dirs(folder)
    val = load_aligned(member_dirs, "val")
    test = load_aligned(member_dirs, "test")
    names, labels = spec.labels, test[0].references

    systems: dict[str, dict] = {}
    for entry, member_val, member_test in zip(spec.members, val, test, strict=True):
        own_thresholds, _ = tune_thresholds(member_val.probs, member_val.references)
        systems[f"{entry['name']} @0.5"] = multilabel_metrics(member_test.probs, labels, names, 0.5)
        systems[f"{entry['name']} tuned"] = multilabel_metrics(
            member_test.probs, labels, names, own_thresholds
        )
    ensemble_test = combine([m.probs for m in test], spec.weights)
    systems["ensemble @0.5"] = multilabel_metrics(ensemble_test, labels, names, 0.5)
    systems["ensemble tuned"] = multilabel_metrics(ensemble_test, labels, names, spec.thresholds)

    if report_dir.exists():
        logger.info("Moved the earlier report to %s", io.move_aside(report_dir))
    report_dir.mkdir(parents=True)
    bars = {k: v for k, v in systems.items() if k.endswith("tuned")} | {
        "ensemble @0.5": systems["ensemble @0.5"]
    }
    plots = [
        plot_f1_bars(report_dir / "f1_per_label.png", bars, names).name,
        plot_threshold_curves(
            report_dir / "threshold_curves.png",
            combine([m.probs for m in val], spec.weights),
            val[0].references,
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
    inputs = {os.path.relpath(p, folder): io.sha256_file(p) for p in inputs}
    run_configs = [d / "run_config.json" for d in member_dirs]
    meta = {
        "evaluated_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "test_rows": len(labels),
        "test_evaluation": history["count"] + 1,
        "history": history["history"],
        "inputs": inputs,
        "base_models": {
            entry["name"]: io.read_json(f).get("base_model")
            for entry, f in zip(spec.members, run_configs, strict=True)
            if f.is_file()
        },
        "data_source": next((io.read_json(f).get("data_source") for f in run_configs if f.is_file()), None),
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
    io.write_json(report_dir / METRICS_FILE, result)
    record_evaluation(
        folder,
        {
            "evaluated_at": meta["evaluated_at"],
            "ensemble_dir": str(folder.resolve()),
            "inputs_digest": io.digest(inputs),
            "test_f1_macro_tuned": systems["ensemble tuned"]["f1_macro"],
            "report": str((report_dir / "report.md").resolve()),
        },
    )
    logger.info(
        "Test macro F1: ensemble %.4f at 0.5, %.4f tuned (micro %.4f); report in %s",
        systems["ensemble @0.5"]["f1_macro"],
        systems["ensemble tuned"]["f1_macro"],
        systems["ensemble tuned"]["f1_micro"],
        report_dir,
    )
    return result


if __name__ == "__main__":
    sys.exit(run_recipe(main))
