"""Functional tests in Korean (HateCheck-style) on a trained ensemble (hf_trainer/evaluation/functional.py).

    python recipes/functional_tests.py --ensemble_dir outputs/ensemble [--suite cases.tsv] [--backend onnx]

Scores every member and the ensemble on the shipped suite (hf_trainer/evaluation/functional_suite/: cases
written for this project, gold rules in its README) and writes <ensemble_dir>/report/
functional_tests.json, functional_tests.png and a section of report.md: the pass rate per
functionality with its 95% interval, the worst failures, and per target group the false positive
rate on neutral and positive mentions and the recall on hateful cases. It reads no test row and
chooses nothing: it can run at any time after recipes/thresholds.py.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from hf_trainer.evaluation.arguments import FunctionalTestsArguments
from hf_trainer.evaluation.functional import CASES_FILE, run_functional_tests
from hf_trainer.utils.arguments import RecipeArgumentParser
from hf_trainer.utils.errors import run_recipe
from hf_trainer.utils.log import setup_logging


def main(argv: list[str] | None = None) -> dict:
    (args,) = RecipeArgumentParser((FunctionalTestsArguments,)).parse(argv)
    setup_logging()
    return run_functional_tests(args.ensemble_dir, args.suite or CASES_FILE, args.backend, args.batch_size)


if __name__ == "__main__":
    sys.exit(run_recipe(main))
