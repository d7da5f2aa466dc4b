"""The data stage's arguments (`DataArguments`: files, columns, split, AEDA, canonical form, spelling
copies), shared by data preparation and every training run."""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass, field

from ..utils.errors import InvalidArgument, InvalidInput
from .canonical import STEPS, check_steps
from .labels import UNSMILE_HUB_DATASET, UNSMILE_LABELS, UNSMILE_TEXT_COLUMN, LabelSchema

logger = logging.getLogger(__name__)


def parse_canonical_form(value: str) -> tuple[str, ...]:
    """--canonical_form: 'all', 'none' (or empty), or comma-separated steps."""
    value = value.strip()
    if value == "all":
        return STEPS
    if value in ("", "none"):
        return ()
    return check_steps([step.strip() for step in value.split(",") if step.strip()], "the canonical form")


# Chosen on validation by `recipes/benchmark.py --items spelling` (docs/PERFORMANCE.md).
DEFAULT_CANONICAL_FORM = "all"
# The spelling-game copies recipes/prepare_data.py adds (marked) when --spelling_copies is not given,
# for the members that take them; the others leave them out (training.presets.SPELLING_COPIES_BY_KIND).
PREPARED_SPELLING_COPIES = 0.5


@dataclass
class DataArguments:
    data_dir: str | None = field(
        default=None,
        metadata={
            "help": "Folder with unsmile_train_v1.0.tsv and unsmile_valid_v1.0.tsv (default: the Hub)."
        },
    )
    dataset_name: str = field(
        default=UNSMILE_HUB_DATASET, metadata={"help": "Hub dataset used without --data_dir."}
    )
    train_file: str | None = field(default=None, metadata={"help": "A generic TSV to train on."})
    validation_file: str | None = field(
        default=None,
        metadata={"help": "Generic validation TSV (default: a stratified part of the train file)."},
    )
    test_file: str | None = field(default=None, metadata={"help": "Generic test TSV."})
    text_column: str = field(default=UNSMILE_TEXT_COLUMN, metadata={"help": "Column holding the comment."})
    label_columns: str | None = field(
        default=None,
        metadata={"help": "Comma-separated 0/1 label columns (generic TSVs; default: UnSmile's)."},
    )
    label_list_column: str | None = field(
        default=None, metadata={"help": "One column with a comma-separated list of label names or ids."}
    )
    # Not `label_names`: TrainingArguments already has a flag of that name (the input keys of labels).
    class_names: str | None = field(
        default=None,
        metadata={"help": "Comma-separated label names (default: UnSmile's ten, or --label_columns)."},
    )
    val_size: float = field(
        default=0.1, metadata={"help": "Validation share of the train split (stratified)."}
    )
    split_seed: int = field(
        default=42,
        metadata={"help": "Seed of the train/validation split (keep it equal across ensemble members)."},
    )
    max_length: int = field(default=128, metadata={"help": "Truncate comments to this many tokens."})
    max_train_samples: int | None = field(
        default=None, metadata={"help": "Cut the train split (quick runs)."}
    )
    max_eval_samples: int | None = field(
        default=None, metadata={"help": "Cut validation and test (quick runs)."}
    )
    aeda_max_ratio: float = field(
        default=0.05, metadata={"help": "AEDA augments labels whose positive ratio in train is below this."}
    )
    aeda_factor: int = field(
        default=2, metadata={"help": "Each selected row ends up this many times (1 = off)."}
    )
    aeda_punc_ratio: float = field(default=0.3, metadata={"help": "AEDA: at most int(ratio*words+1) marks."})
    canonical_form: str = field(
        default=DEFAULT_CANONICAL_FORM,
        metadata={
            "help": "Canonical-form steps applied to every split before training, and by the members when "
            f"serving (hf_trainer/data/canonical.py): comma-separated among {', '.join(STEPS)}; 'all' or 'none'."
        },
    )
    spelling_copies: float | None = field(
        default=None,
        metadata={
            "help": "Share of the train rows given one more copy whose text plays a spelling game "
            "(hf_trainer/data/perturb.py, one family drawn per row) at --spelling_rate; 0 = off. Default: "
            "the member kind's (char-ngram 0.5, chosen on validation with it; transformers 0: unmeasured on "
            "them, and 1.39x the rows of every epoch); recipes/prepare_data.py adds 0.5, marked, and a "
            "member that takes none leaves them out."
        },
    )
    spelling_rate: float = field(
        default=0.3, metadata={"help": "Rate of the spelling game of each --spelling_copies copy."}
    )
    preprocessing_num_workers: int | None = field(default=None, metadata={"help": "Processes for .map."})
    prepared_data_dir: str | None = field(
        default=None,
        metadata={"help": "Splits written by recipes/prepare_data.py; skips loading, splitting and AEDA."},
    )

    def __post_init__(self) -> None:
        if self.label_columns and self.label_list_column:
            raise InvalidArgument("give --label_columns or --label_list_column, not both")
        if (self.label_columns or self.label_list_column or self.validation_file or self.test_file) and not (
            self.train_file
        ):
            raise InvalidArgument(
                "--label_columns/--label_list_column/--validation_file/--test_file need --train_file"
            )
        if self.label_list_column and not self.class_names:
            raise InvalidArgument("--label_list_column needs --class_names a,b,c")
        for name in ("spelling_copies", "spelling_rate"):
            if getattr(self, name) is not None and not 0.0 <= getattr(self, name) <= 1.0:
                raise InvalidArgument(f"--{name} must be in [0, 1], got {getattr(self, name)}")
        try:
            parse_canonical_form(self.canonical_form)
        except InvalidInput as err:
            raise InvalidArgument(f"--canonical_form: {err}") from None

    @functools.cached_property
    def canonical_steps(self) -> tuple[str, ...]:
        """The canonical-form steps of this data: a prepared folder's (its report), else --canonical_form."""
        if self.prepared_data_dir:
            from .loading import read_prepared_report  # datasets: only when a prepared folder is read

            return check_steps(read_prepared_report(self.prepared_data_dir).get("canonical_form") or ())
        return parse_canonical_form(self.canonical_form)

    @functools.cached_property
    def schema(self) -> LabelSchema:
        """The label schema, worked out once: a prepared folder's report, --class_names,
        --label_columns, or UnSmile's ten labels."""
        if self.prepared_data_dir:
            from .loading import read_prepared_labels  # datasets: only when a prepared folder is read

            return LabelSchema.from_names(read_prepared_labels(self.prepared_data_dir))
        if self.class_names:
            return LabelSchema.from_comma_list(self.class_names)
        if self.label_columns:
            return LabelSchema.from_comma_list(self.label_columns)
        return LabelSchema(UNSMILE_LABELS)

    @property
    def label_column_list(self) -> list[str] | None:
        return [c.strip() for c in self.label_columns.split(",") if c.strip()] if self.label_columns else None
