"""Export an ensemble's transformer members to ONNX (optionally int8) and check the copies.

    python recipes/export.py --ensemble_dir outputs/ensemble [--quantize int8] [--min_agreement 0.995]

Writes <ensemble_dir>/onnx/<member>/model.onnx (and model.int8.onnx) and onnx/export.json: for each
copy, the share of (comment, label) decisions that agree with the PyTorch fp32 backend at the
ensemble's thresholds, the flip rate among flagged decisions and among decisions near a threshold,
and the largest score difference, on comments the members never trained or tuned on (up to
--check_rows of the test split's texts, whose labels are not used, or of --check_file), and
whether the copy is valid. An int8 copy below --min_agreement is made again with the feed-forward
layers kept in fp32 and checked again. A copy below --min_agreement is never served; exit code 2
when the copy asked for fails. Serve with `Ensemble.from_pretrained(dir, backend="onnx")` or
`recipes/predict.py --backend onnx`. Needs `pip install -e ".[onnx]"`.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from hf_trainer.serving.arguments import ExportArguments
from hf_trainer.serving.export import export_ensemble
from hf_trainer.utils.arguments import RecipeArgumentParser
from hf_trainer.utils.errors import run_recipe
from hf_trainer.utils.log import setup_logging


def main(argv: list[str] | None = None) -> dict:
    (args,) = RecipeArgumentParser((ExportArguments,)).parse(argv)
    setup_logging()
    return export_ensemble(
        args.ensemble_dir, args.quantize, args.min_agreement, args.check_rows, check_file=args.check_file
    )


if __name__ == "__main__":
    sys.exit(run_recipe(main))
