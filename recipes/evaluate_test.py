"""Score the test split once: the ensemble (weights + thresholds from validation) and each member.

    python recipes/evaluate_test.py --ensemble_dir outputs/ensemble [--force]

Writes <ensemble_dir>/report/: test_metrics.json (point figures, 95% bootstrap intervals, paired
differences, the validation estimates beside the test figure, calibration, label confusions),
report.md, errors.tsv (the worst false positives and negatives per label) and PNG plots (per-label F1,
thresholds, training curves, reliability diagrams, label confusion); and counts the evaluation
in <ensemble_dir>/../test_evaluations.json. A second evaluation for the same output folder (even of
a new ensemble) refuses unless --force: the test split is for the final number, not for choosing
anything. With --force an earlier report is moved aside (report.old-<time>), never overwritten, and
the new report shows how many times the test split was scored.
"""

from __future__ import annotations

import datetime as dt
import logging
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np

from hf_trainer.data.preparation import split_texts
from hf_trainer.evaluation.analysis import (
    PUBLISHED_LRAP,
    bootstrap_section,
    calibration_section,
    classification_report,
    confusion_section,
    cv_section,
)
from hf_trainer.evaluation.arguments import EvaluationArguments
from hf_trainer.evaluation.error_analysis import error_rows, write_errors_tsv
from hf_trainer.evaluation.functional import put_functional_section
from hf_trainer.evaluation.plots import (
    plot_confusion,
    plot_f1_bars,
    plot_reliability,
    plot_threshold_curves,
    plot_training_curves,
)
from hf_trainer.evaluation.report import write_report_md
from hf_trainer.evaluation.test_once import (
    ERRORS_FILE,
    METRICS_FILE,
    REPORT_DIR,
    REPORT_FILE,
    RescoreRefused,
    check_may_score,
    evaluation_inputs,
    record_evaluation,
    refusal,
)
from hf_trainer.metrics.multilabel import binarize, multilabel_metrics
from hf_trainer.selection.calibration import apply_temperature
from hf_trainer.selection.cross_validation import shipped_threshold_fitter, ungated_thresholds
from hf_trainer.selection.ensemble import EnsembleSpec
from hf_trainer.selection.mention_gate import UNGATED_TUNED
from hf_trainer.serving.explain import explain_error_rows
from hf_trainer.training.predictions import load_aligned
from hf_trainer.utils import io
from hf_trainer.utils.arguments import RecipeArgumentParser
from hf_trainer.utils.errors import UserError, run_recipe
from hf_trainer.utils.log import setup_logging

logger = logging.getLogger("hf_trainer.evaluate_test")


def score_systems(spec: EnsembleSpec, val: list, test: list) -> tuple[dict, dict, np.ndarray, np.ndarray]:
    """Test metrics and 0/1 decisions of every member and of the ensemble, at 0.5 and with thresholds
    chosen on val (a member's chosen the same way as the ensemble's); and the mixed val/test scores."""
    names, labels = spec.labels, test[0].references
    fit = shipped_threshold_fitter(spec.threshold_report)
    systems, decisions = {}, {}

    def add(name: str, probs: np.ndarray, thresholds) -> None:
        systems[name] = multilabel_metrics(probs, labels, names, thresholds)
        decisions[name] = binarize(probs, thresholds)

    for entry, member_val, member_test in zip(spec.members, val, test, strict=True):
        add(f"{entry['name']} @0.5", member_test.probs, 0.5)
        add(f"{entry['name']} tuned", member_test.probs, fit(member_val.probs, member_val.references))
    val_mixed, test_mixed = spec.mix([m.probs for m in val]), spec.mix([m.probs for m in test])
    add("ensemble @0.5", test_mixed, 0.5)
    add("ensemble tuned", test_mixed, spec.thresholds)
    if spec.gate_acts:  # what the mention gate changes: the same mix without it, thresholds re-chosen
        add(UNGATED_TUNED, spec.mix([m.probs for m in test], gated=False), ungated_thresholds(spec, val))
    return systems, decisions, val_mixed, test_mixed


def comparisons(spec: EnsembleSpec) -> list[tuple[str, str]]:
    """The paired comparisons: tuned against 0.5, and the ensemble against its best member by val."""
    pairs = [("ensemble tuned", "ensemble @0.5")]
    if spec.gate_acts:
        pairs.insert(0, ("ensemble tuned", UNGATED_TUNED))
    if len(spec.members) > 1:
        best = max(spec.members, key=lambda m: m.get("val_f1_macro_tuned", m.get("val_f1_macro", 0.0)))
        pairs.insert(0, ("ensemble tuned", f"{best['name']} tuned"))
    return pairs


def draw_plots(report_dir: Path, spec: EnsembleSpec, systems: dict, val, test, mixed, confusion) -> list[str]:
    names, member_dirs = spec.labels, spec.member_dirs(report_dir.parent)
    bars = {k: v for k, v in systems.items() if k.endswith("tuned")} | {
        "ensemble @0.5": systems["ensemble @0.5"]
    }
    val_mixed, test_mixed = mixed
    plots = [
        plot_f1_bars(report_dir / "f1_per_label.png", bars, names),
        plot_threshold_curves(
            report_dir / "threshold_curves.png", val_mixed, val[0].references, spec.thresholds, names
        ),
    ]
    histories = {
        entry["name"]: io.read_json(d / "trainer_state.json")["log_history"]
        for entry, d in zip(spec.members, member_dirs, strict=True)
        if (d / "trainer_state.json").is_file()
    }
    if histories:
        plots.append(plot_training_curves(report_dir / "training_curves.png", histories))
    for entry, member_val, member_test in zip(spec.members, val, test, strict=True):
        splits = {
            "val": (member_val.probs, member_val.references),
            "test": (member_test.probs, member_test.references),
        }
        if entry.get("temperature", 1.0) != 1.0:
            splits["val calibrated"] = (
                apply_temperature(member_val.probs, entry["temperature"]),
                member_val.references,
            )
            splits["test calibrated"] = (
                apply_temperature(member_test.probs, entry["temperature"]),
                member_test.references,
            )
        plots.append(
            plot_reliability(report_dir / f"reliability_{entry['name']}.png", entry["name"], splits, names)
        )
    ensemble_splits = {"val": (val_mixed, val[0].references), "test": (test_mixed, test[0].references)}
    plots.append(
        plot_reliability(report_dir / "reliability_ensemble.png", "ensemble", ensemble_splits, names)
    )
    plots.append(plot_confusion(report_dir / "label_confusion.png", np.asarray(confusion["rate"]), names))
    return [p.name for p in plots]


def count_evaluation(folder: Path, member_dirs: list[Path], test_f1_macro_tuned: float) -> tuple[dict, str]:
    """Record this evaluation in the folder's test-once history; returns its inputs' SHA-256 and time."""
    inputs = evaluation_inputs(folder, member_dirs)
    evaluated_at = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    record_evaluation(
        folder,
        {
            "evaluated_at": evaluated_at,
            "ensemble_dir": str(folder.resolve()),
            "inputs_digest": io.digest(inputs),
            "test_f1_macro_tuned": test_f1_macro_tuned,
            "report": str((folder / REPORT_DIR / REPORT_FILE).resolve()),
        },
    )
    return inputs, evaluated_at


def analyse(spec: EnsembleSpec, args, decisions: dict, val: list, test: list, val_mixed, test_mixed) -> dict:
    """The report's figures beyond the point scores: intervals and paired differences, the val
    estimates beside the test figure, calibration, label confusions."""
    names, labels = spec.labels, test[0].references
    analysis = bootstrap_section(
        decisions, labels, names, comparisons(spec), args.bootstrap_resamples, args.seed
    )
    analysis["val_cv"] = cv_section(spec.threshold_report, val_mixed, val[0].references, test_mixed, labels)
    member_scores = {
        entry["name"]: {"val": (mv.probs, mv.references), "test": (mt.probs, mt.references)}
        for entry, mv, mt in zip(spec.members, val, test, strict=True)
    }
    ensemble_scores = {"ensemble": {"val": (val_mixed, val[0].references), "test": (test_mixed, labels)}}
    if any(t != 1.0 for t in spec.temperatures):  # what the temperatures changed, for the ensemble too
        ensemble_scores["ensemble without temperatures"] = {
            "val": (spec.mix([m.probs for m in val], temperatures=False), val[0].references),
            "test": (spec.mix([m.probs for m in test], temperatures=False), labels),
        }
    analysis["calibration"] = calibration_section(
        member_scores | ensemble_scores,
        names,
        {entry["name"]: entry.get("temperature", 1.0) for entry in spec.members},
    )
    analysis["label_confusion"] = confusion_section(decisions["ensemble tuned"], labels, names)
    analysis["members"] = members_section(spec)
    return analysis


def members_section(spec: EnsembleSpec) -> dict:
    """Each member's weight and val figures, what leaving it out changes on val (from the ensemble
    stage), how the weights were chosen, and the mention gate."""
    removal = {effect["member"]: effect for effect in spec.removal or []}
    return {
        "members": [
            {
                "name": entry["name"],
                "kind": entry.get("kind"),
                "weight": entry["weight"],
                "val_f1_macro_tuned": entry.get("val_f1_macro_tuned"),
                "removal": removal.get(entry["name"]),
            }
            for entry in spec.members
        ],
        "weight_choice": spec.weight_choice,
        "gate": spec.gate,
    }


def provenance(spec: EnsembleSpec, member_dirs: list[Path]) -> dict:
    """The base models each member was fine-tuned from and the data source, from the run configs."""
    run_configs = [d / "run_config.json" for d in member_dirs]
    return {
        "base_models": {
            entry["name"]: io.read_json(f).get("base_model")
            for entry, f in zip(spec.members, run_configs, strict=True)
            if f.is_file()
        },
        "data_source": next((io.read_json(f).get("data_source") for f in run_configs if f.is_file()), None),
    }


def explain_errors(folder: Path, rows: list[dict]) -> bool:
    """errors.tsv's spans, from the members served live. The evaluation is counted already: a member
    that cannot be loaded or run leaves the spans empty, with one warning, and the report is written."""
    from hf_trainer.serving.inference import Ensemble  # loads transformers: only when the spans are asked for

    try:
        explain_error_rows(Ensemble.from_pretrained(str(folder)), rows)
    except Exception as err:  # noqa: BLE001 - the spans are an extra; the evaluation stands
        logger.warning(
            "errors.tsv without spans: the members could not be rescored (%s: %s)", type(err).__name__, err
        )
        for row in rows:
            row["spans"] = ""
        return False
    return True


def main(argv: list[str] | None = None) -> dict:
    (args,) = RecipeArgumentParser((EvaluationArguments,)).parse(argv)
    setup_logging()
    start = time.perf_counter()
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
    systems, decisions, val_mixed, test_mixed = score_systems(spec, val, test)
    scored = time.perf_counter()
    # Counted as soon as the test split is scored: a failure in the analysis below must not leave a
    # score that nobody counted.
    inputs, evaluated_at = count_evaluation(folder, member_dirs, systems["ensemble tuned"]["f1_macro"])
    analysis = analyse(spec, args, decisions, val, test, val_mixed, test_mixed)

    if (report_dir / METRICS_FILE).exists():  # an earlier evaluation's report; functional results alone stay
        logger.info("Moved the earlier report to %s", io.move_aside(report_dir))
    report_dir.mkdir(parents=True, exist_ok=True)
    texts = split_texts(member_dirs, "test")
    errors = error_rows(test_mixed, labels, spec.thresholds, test[0].ids, names, texts, args.errors_per_label)
    if args.explain_errors and texts is not None and errors:
        explain_errors(folder, errors)
    write_errors_tsv(report_dir / ERRORS_FILE, errors)
    plots = draw_plots(
        report_dir, spec, systems, val, test, (val_mixed, test_mixed), analysis["label_confusion"]
    )

    result = {
        "evaluated_at": evaluated_at,
        "test_rows": len(labels),
        "test_evaluation": history["count"] + 1,
        "history": history["history"],
        "inputs": inputs,
        **provenance(spec, member_dirs),
        "weights": dict(zip([m["name"] for m in spec.members], spec.weights.tolist(), strict=True)),
        "temperatures": dict(zip([m["name"] for m in spec.members], spec.temperatures, strict=True)),
        "thresholds": dict(zip(names, spec.thresholds, strict=True)),
        "systems": systems,
        "classification_report": classification_report(systems["ensemble tuned"]),
        "published_lrap": PUBLISHED_LRAP,
        **analysis,
        "errors_file": ERRORS_FILE,
        "errors_listed": len(errors),
        "errors_have_texts": texts is not None,
        "seconds": {"scoring": round(scored - start, 2), "total": round(time.perf_counter() - start, 2)},
    }
    write_report_md(report_dir / REPORT_FILE, result, primary="ensemble tuned", labels=names, plots=plots)
    put_functional_section(report_dir, io.digest(inputs))  # functional tests run before it, on these inputs
    io.write_json(report_dir / METRICS_FILE, result)
    logger.info(
        "Test macro F1: ensemble %.4f at 0.5, %.4f tuned (95%% CI %.4f-%.4f; micro %.4f); %.1fs (analysis and "
        "plots %.1fs); report in %s",
        systems["ensemble @0.5"]["f1_macro"],
        systems["ensemble tuned"]["f1_macro"],
        *analysis["bootstrap_ci"]["systems"]["ensemble tuned"]["f1_macro"],
        systems["ensemble tuned"]["f1_micro"],
        time.perf_counter() - start,
        time.perf_counter() - scored,
        report_dir,
    )
    return result


if __name__ == "__main__":
    sys.exit(run_recipe(main))
