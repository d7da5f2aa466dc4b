"""Choose one decision threshold per label on the validation split; store them in ensemble.json.

    python recipes/thresholds.py --ensemble_dir outputs/ensemble [--threshold_choice auto|tuned|per_label]

Exact search over the distinct scores (see hf_trainer/selection/thresholds.py). Then 5-fold cross-validation on
val (hf_trainer/selection/cross_validation.py) estimates what the tuned thresholds, and the whole selection of
weights and thresholds, score on rows they were not tuned on, and decides per label whether a tuned
threshold beats 0.5 at all. Logs val F1 at 0.5 versus tuned, per label, and the estimates.
"""

from __future__ import annotations

import logging
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from hf_trainer.selection.arguments import ThresholdArguments
from hf_trainer.selection.cross_validation import choose_thresholds, cross_validate_selection
from hf_trainer.selection.ensemble import EnsembleSpec
from hf_trainer.selection.thresholds import threshold_report, tune_thresholds
from hf_trainer.training.predictions import load_aligned
from hf_trainer.utils.arguments import RecipeArgumentParser
from hf_trainer.utils.errors import InvalidInput, run_recipe
from hf_trainer.utils.log import setup_logging

logger = logging.getLogger("hf_trainer.thresholds_recipe")


def main(argv: list[str] | None = None) -> EnsembleSpec:
    (args,) = RecipeArgumentParser((ThresholdArguments,)).parse(argv)
    setup_logging()
    start = time.perf_counter()
    spec = EnsembleSpec.load(args.ensemble_dir)
    members = load_aligned(spec.member_dirs(args.ensemble_dir), "val")
    labels = members[0].references
    if list(members[0].label_names) != spec.labels:
        raise InvalidInput(f"members predict {members[0].label_names}, ensemble.json says {spec.labels}")
    probs = spec.mix([m.probs for m in members])
    thresholds, evidence = choose_thresholds(probs, labels, args.threshold_choice, args.cv_folds, args.seed)
    # The whole selection out of fold: weights searched (on the members' calibrated scores; the
    # temperatures themselves were fitted on all of val), the gate's strength, then thresholds.
    evidence["cv"]["weights_and_thresholds"] = cross_validate_selection(
        spec.calibrated([m.probs for m in members]),
        labels,
        evidence["chosen"],
        spec.objective,
        args.cv_folds,
        args.seed,
        spec.labels,
        spec.gate_index,
    )
    # Full precision: the thresholds applied later are exactly the ones chosen here (JSON keeps float64).
    spec.thresholds = [float(t) for t in thresholds]
    report = threshold_report(probs, labels, spec.labels, spec.thresholds)
    report["val_f1_macro_all_tuned"] = float(tune_thresholds(probs, labels)[1].mean())
    report["cv"] = evidence
    spec.threshold_report = report
    path = spec.save(args.ensemble_dir)
    choice = evidence["per_label_choice"]
    logger.info(
        "%-10s %9s %9s %9s %11s %6s", "label", "threshold", "F1@0.5", "F1 chosen", "CV F1 tuned", "keeps"
    )
    for j, (name, row) in enumerate(report["per_label"].items()):
        logger.info(
            "%-10s %9.3f %9.4f %9.4f %11.4f %6s",
            name,
            row["threshold"],
            row["val_f1_at_0.5"],
            row["val_f1_tuned"],
            choice["cv_f1_tuned"][j],
            choice["keeps"][j] if evidence["chosen"] == "per_label" else "tuned",
        )
    cv = evidence["cv"]
    logger.info(
        "Threshold choice %s (asked: %s): %d-fold CV val macro F1 %.4f every label tuned, %.4f per-label "
        "choice, %.4f weights and thresholds re-selected per fold",
        evidence["chosen"],
        args.threshold_choice,
        args.cv_folds,
        cv["tuned"]["cv_f1_macro"],
        cv["per_label"]["cv_f1_macro"],
        cv["weights_and_thresholds"]["cv_f1_macro"],
    )
    logger.info(
        "Val macro F1: %.4f at 0.5 -> %.4f with these thresholds, in sample (%.2fs); wrote %s",
        report["val_f1_macro_at_0.5"],
        report["val_f1_macro_tuned"],
        time.perf_counter() - start,
        path,
    )
    return spec


if __name__ == "__main__":
    sys.exit(run_recipe(main))
