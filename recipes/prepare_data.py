"""Load, validate, split and augment the data once; write the splits for the training runs.

    python recipes/prepare_data.py --data_dir /path/to/unsmile --output_dir outputs/data

Takes the data flags of recipes/train.py (--data_dir, --train_file, --val_size, --split_seed,
--aeda_*, ...). Training then reads them with --prepared_data_dir outputs/data, so that every
member sees exactly the same rows.
"""

from __future__ import annotations

import logging
import sys
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from hf_trainer.data.arguments import DataArguments
from hf_trainer.data.loading import save_prepared_splits
from hf_trainer.data.preparation import prepare_splits
from hf_trainer.utils.arguments import RecipeArgumentParser
from hf_trainer.utils.errors import InvalidArgument, run_recipe
from hf_trainer.utils.log import setup_logging

logger = logging.getLogger("hf_trainer.prepare_data")


@dataclass
class PrepareArguments:
    output_dir: str = field(default="outputs/data", metadata={"help": "Where the prepared splits go."})
    seed: int = field(default=42, metadata={"help": "AEDA seed (the split has its own --split_seed)."})


def main(argv: list[str] | None = None) -> dict:
    data_args, args = RecipeArgumentParser((DataArguments, PrepareArguments)).parse(argv)
    setup_logging()
    if data_args.prepared_data_dir:
        raise InvalidArgument(
            "--prepared_data_dir is what this script writes; give the raw data flags instead"
        )
    splits, report = prepare_splits(data_args, args.seed)
    folder = save_prepared_splits(splits, report, list(data_args.schema.names), args.output_dir)
    logger.info("Prepared %s in %.1fs -> %s", report["rows"], report["prepare_seconds"], folder)
    return report


if __name__ == "__main__":
    sys.exit(run_recipe(main))
