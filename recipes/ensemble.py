"""Find ensemble weights on the validation split and write ensemble.json.

    python recipes/ensemble.py --members outputs/kcelectra outputs/soongsilbert outputs/roberta \
        --output_dir outputs/ensemble [--objective f1_macro_tuned|logloss]

Reads each member's predictions/val.npz. Thresholds are added by recipes/thresholds.py.
"""

from __future__ import annotations

import logging
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from hf_trainer.configs import EnsembleArguments, RecipeArgumentParser
from hf_trainer.ensemble import EnsembleSpec, combine, load_aligned, optimise_weights
from hf_trainer.errors import run_recipe
from hf_trainer.log import setup_logging
from hf_trainer.thresholds import tuned_macro_f1

logger = logging.getLogger("hf_trainer.ensemble_recipe")


def main(argv: list[str] | None = None) -> EnsembleSpec:
    (args,) = RecipeArgumentParser((EnsembleArguments,)).parse(argv)
    setup_logging()
    start = time.perf_counter()
    members = load_aligned(args.members, "val")
    labels = members[0].references
    weights, value = optimise_weights([m.probs for m in members], labels, args.objective)
    mixed = combine([m.probs for m in members], weights)
    spec = EnsembleSpec.from_members(members, weights, args.objective, value, args.output_dir)
    path = spec.save(args.output_dir)
    for entry in spec.members:
        logger.info(
            "%-16s weight %.3f  val macro F1 %.4f (0.5)  %.4f (tuned)",
            entry["name"],
            entry["weight"],
            entry["val_f1_macro"],
            entry["val_f1_macro_tuned"],
        )
    logger.info(
        "Ensemble: val %s %.4f (tuned-threshold macro F1 %.4f); %d rows; %.2fs; wrote %s",
        args.objective,
        value,
        tuned_macro_f1(mixed, labels),
        len(labels),
        time.perf_counter() - start,
        path,
    )
    return spec


if __name__ == "__main__":
    sys.exit(run_recipe(main))
