"""Does it work on my comments? Score a labelled file from another source (hf_trainer/evaluation/external.py).

    python recipes/evaluate_external.py --ensemble_dir outputs/ensemble --data their.tsv \
        --label_map map.json [--text_column text] [--label_column labels] [--output_dir outputs/external]

`--data` is a TSV with a header: a text column and a label column whose cells list each row's own
labels, comma-separated (empty: none). `--label_map` is a JSON object from their labels to UnSmile's
("clean" for not hate; many to one allowed); a label the map does not name counts as hate with no
group. Writes external_metrics.json (each mapped UnSmile label's F1 and the binary hate/not-hate
precision, recall and F1, with 95% bootstrap intervals), external_errors.tsv (the binary errors, most
confident first, up to 50 of each kind, with the line of --data each came from) and
external_calibration.png (of the mapped labels that some row has). Not a test evaluation of the UnSmile split: nothing is
counted in its test-once record and nothing is chosen on it.
"""

from __future__ import annotations

import logging
import sys
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from hf_trainer.evaluation.external import (
    ERRORS_FILE,
    EXTERNAL_FILE,
    PLOT_FILE,
    errors_tsv,
    external_evaluation,
    read_label_map,
    read_labelled_file,
)
from hf_trainer.evaluation.plots import plot_reliability
from hf_trainer.serving.inference import Ensemble
from hf_trainer.utils import io
from hf_trainer.utils.arguments import RecipeArgumentParser
from hf_trainer.utils.errors import InvalidArgument, run_recipe
from hf_trainer.utils.log import setup_logging

logger = logging.getLogger(__name__)


@dataclass
class ExternalArguments:
    ensemble_dir: str = field(default="outputs/ensemble", metadata={"help": "Ensemble folder or Hub id."})
    data: str = field(default="", metadata={"help": "The labelled TSV from another source."})
    label_map: str = field(default="", metadata={"help": "JSON: {their label: UnSmile label or clean}."})
    text_column: str = field(default="text", metadata={"help": "The column with the comments."})
    label_column: str = field(default="labels", metadata={"help": "The column with their labels (a,b,c)."})
    output_dir: str = field(default="outputs/external", metadata={"help": "Where the figures go."})
    seed: int = field(default=42, metadata={"help": "Seed of the bootstrap resamples."})

    def __post_init__(self) -> None:
        if not self.data or not self.label_map:
            raise InvalidArgument("give --data FILE.tsv and --label_map MAP.json")


def main(argv: list[str] | None = None) -> dict:
    (args,) = RecipeArgumentParser((ExternalArguments,)).parse(argv)
    setup_logging()
    mapping = read_label_map(args.label_map)
    rows = read_labelled_file(args.data, args.text_column, args.label_column)
    logger.info("%s: %d labelled comments", args.data, len(rows.texts))
    out = io.ensure_writable(args.output_dir)  # before the scoring, so a bad folder costs nothing
    ensemble = Ensemble.from_pretrained(args.ensemble_dir)
    result, probs, gold, hate = external_evaluation(
        ensemble, rows.texts, rows.labels, mapping, seed=args.seed
    )
    # The files of an earlier run in this folder go first: the three written here belong together.
    for name in (EXTERNAL_FILE, ERRORS_FILE, PLOT_FILE):
        (out / name).unlink(missing_ok=True)
    names = [name for name, figures in result["per_label"].items() if figures["support"]]
    if names:
        columns = [ensemble.labels.index(n) for n in names]
        plot_reliability(
            out / PLOT_FILE, "ensemble", {"external": (probs[:, columns], gold[:, columns])}, names
        )
    else:
        logger.info(
            "No calibration plot: no row of the file has an UnSmile hate or abuse label under the map"
        )
    errors_tsv(out / ERRORS_FILE, rows, hate, probs, ensemble.thresholds)
    io.write_json(
        out / EXTERNAL_FILE,
        result | {"ensemble_dir": args.ensemble_dir, "data": args.data, "label_map": mapping},
    )
    binary = result["binary_hate"]
    logger.info(
        "Hate / not hate: precision %.3f, recall %.3f, F1 %.3f [%.3f, %.3f]; wrote %s",
        binary["precision"]["value"], binary["recall"]["value"], binary["f1"]["value"], *binary["f1"]["ci"], out,
    )  # fmt: skip
    return result


if __name__ == "__main__":
    sys.exit(run_recipe(main))
