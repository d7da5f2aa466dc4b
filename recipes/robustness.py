"""Spelling games on the test split: how the ensemble and each member hold (hf_trainer/evaluation/robustness.py).

    python recipes/robustness.py --ensemble_dir outputs/ensemble [--rate 0.3] [--seed 42] [--backend onnx]

Runs after recipes/evaluate_test.py, on the same inputs: the figures belong to that one test
evaluation (not counted as another); after any change, evaluate the test split again first. Writes
<ensemble_dir>/report/robustness.json and a section of report.md: the macro F1 of the ensemble and of
each member on the played test comments, with the paired bootstrap difference against the same
comments as written, for two sets of games: the independent ones (hf_trainer/evaluation/outside_games.py,
each family at its own rate; the target, a drop of at most 0.02 for the ensemble, is judged on them)
and this project's (each family of hf_trainer/data/perturb.py, and all mixed, at --rate).
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from hf_trainer.evaluation.arguments import RobustnessArguments
from hf_trainer.evaluation.robustness import run_robustness
from hf_trainer.utils.arguments import RecipeArgumentParser
from hf_trainer.utils.errors import run_recipe
from hf_trainer.utils.log import setup_logging


def main(argv: list[str] | None = None) -> dict:
    (args,) = RecipeArgumentParser((RobustnessArguments,)).parse(argv)
    setup_logging()
    return run_robustness(args.ensemble_dir, args.rate, args.seed, args.backend)


if __name__ == "__main__":
    sys.exit(run_recipe(main))
