"""Tune one decision threshold per label on the validation split; store them in ensemble.json.

    python recipes/thresholds.py --ensemble_dir outputs/ensemble

Exact search over the distinct scores (see hf_trainer/thresholds.py). Logs val F1 at 0.5 versus
tuned, per label.
"""

from __future__ import annotations

import logging
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from hf_trainer.configs import EnsembleDirArguments, RecipeArgumentParser
from hf_trainer.ensemble import EnsembleSpec, combine, load_aligned
from hf_trainer.errors import InvalidInput, run_recipe
from hf_trainer.log import setup_logging
from hf_trainer.thresholds import threshold_report, tune_thresholds

logger = logging.getLogger("hf_trainer.thresholds_recipe")


def main(argv: list[str] | None = None) -> EnsembleSpec:
    (args,) = RecipeArgumentParser((EnsembleDirArguments,)).parse(argv)
    setup_logging()
    start = time.perf_counter()
    spec = EnsembleSpec.load(args.ensemble_dir)
    members = load_aligned(spec.member_dirs(args.ensemble_dir), "val")
    labels = members[0].references
    if list(members[0].label_names) != spec.labels:
        raise InvalidInput(f"members predict {members[0].label_names}, ensemble.json says {spec.labels}")
    probs = combine([m.probs for m in members], spec.weights)
    thresholds, _ = tune_thresholds(probs, labels)
    # Full precision: the thresholds applied later are exactly the ones tuned here (JSON keeps float64).
    spec.thresholds = [float(t) for t in thresholds]
    spec.threshold_report = threshold_report(probs, labels, spec.labels, spec.thresholds)
    path = spec.save(args.ensemble_dir)
    logger.info("%-10s %9s %9s %9s", "label", "threshold", "F1@0.5", "F1 tuned")
    for name, row in spec.threshold_report["per_label"].items():
        logger.info(
            "%-10s %9.3f %9.4f %9.4f", name, row["threshold"], row["val_f1_at_0.5"], row["val_f1_tuned"]
        )
    logger.info(
        "Val macro F1: %.4f at 0.5 -> %.4f tuned (%.2fs); wrote %s",
        spec.threshold_report["val_f1_macro_at_0.5"],
        spec.threshold_report["val_f1_macro_tuned"],
        time.perf_counter() - start,
        path,
    )
    return spec


if __name__ == "__main__":
    sys.exit(run_recipe(main))
