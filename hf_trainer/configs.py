"""Argument dataclasses of the data and of the stages after training, and the parser: a YAML recipe
first, command-line flags override it. Imports neither torch nor a model (the training run's own
arguments are in `train_configs`), so the data, ensemble, thresholds and test stages start quickly."""

from __future__ import annotations

import difflib
import functools
import logging
import sys
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from transformers import HfArgumentParser

from .canonical import STEPS, check_steps
from .errors import InputNotFound, InvalidArgument, InvalidInput, recover_utf8_argv
from .labels import UNSMILE_HUB_DATASET, UNSMILE_LABELS, UNSMILE_TEXT_COLUMN, LabelSchema

logger = logging.getLogger(__name__)

# The ONNX export's agreement check (hf_trainer/export.py): the share of decisions a copy must keep,
# and how many comments it is checked on (the test split's texts, or a file of unlabelled comments).
MIN_AGREEMENT = 0.995
CHECK_ROWS = 3000


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
            f"serving (hf_trainer/canonical.py): comma-separated among {', '.join(STEPS)}; 'all' or 'none'."
        },
    )
    spelling_copies: float = field(
        default=0.5,
        metadata={
            "help": "Share of the train rows given one more copy whose text plays a spelling game "
            "(hf_trainer/perturb.py, one family drawn per row) at --spelling_rate; 0 = off."
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
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise InvalidArgument(f"--{name} must be in [0, 1], got {getattr(self, name)}")
        try:
            parse_canonical_form(self.canonical_form)
        except InvalidInput as err:
            raise InvalidArgument(f"--canonical_form: {err}") from None

    @functools.cached_property
    def canonical_steps(self) -> tuple[str, ...]:
        """The canonical-form steps of this data: a prepared folder's (its report), else --canonical_form."""
        if self.prepared_data_dir:
            from .data import read_prepared_report  # datasets: only when a prepared folder is read

            return check_steps(read_prepared_report(self.prepared_data_dir).get("canonical_form") or ())
        return parse_canonical_form(self.canonical_form)

    @functools.cached_property
    def schema(self) -> LabelSchema:
        """The label schema, worked out once: a prepared folder's report, --class_names,
        --label_columns, or UnSmile's ten labels."""
        if self.prepared_data_dir:
            from .data import read_prepared_labels  # datasets: only when a prepared folder is read

            return LabelSchema.from_names(read_prepared_labels(self.prepared_data_dir))
        if self.class_names:
            return LabelSchema.from_comma_list(self.class_names)
        if self.label_columns:
            return LabelSchema.from_comma_list(self.label_columns)
        return LabelSchema(UNSMILE_LABELS)

    @property
    def label_column_list(self) -> list[str] | None:
        return [c.strip() for c in self.label_columns.split(",") if c.strip()] if self.label_columns else None


class RecipeArgumentParser(HfArgumentParser):
    """`recipe.py [config.yaml] [--flag value ...]`: the YAML sets defaults, flags override them."""

    def parse(self, args: list[str] | None = None):
        # Under a C locale argv arrives surrogate-escaped; recover UTF-8 (Korean column and label names).
        args = recover_utf8_argv(list(sys.argv[1:] if args is None else args))
        if args and args[0].endswith((".yaml", ".yml")):
            self._apply_yaml_defaults(Path(args.pop(0)))
        *parsed, unknown = self.parse_args_into_dataclasses(
            args=args, look_for_args_file=False, return_remaining_strings=True
        )
        if unknown:
            flags = [a for a in unknown if a.startswith("-")] or unknown
            known = [option for action in self._actions for option in action.option_strings]
            close = difflib.get_close_matches(flags[0], known, n=1)
            hint = f" Did you mean '{close[0]}'?" if close else ""
            raise InvalidArgument(f"unknown argument(s) {' '.join(unknown)}.{hint} See --help.")
        return tuple(parsed)

    def _apply_yaml_defaults(self, path: Path) -> None:
        if not path.is_file():
            raise InputNotFound(f"recipe config not found: {path}")
        values = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        if not isinstance(values, dict):
            raise InvalidArgument(f"{path}: a recipe config must be a mapping of argument names to values")
        known = {action.dest for action in self._actions}
        for key in values:
            if key not in known:
                close = difflib.get_close_matches(key, known, n=1)
                hint = f" Did you mean '{close[0]}'?" if close else ""
                raise InvalidArgument(f"{path}: unknown argument '{key}'.{hint}")
        # Strings go through argparse's type conversion; YAML lists become the flag's list value.
        self.set_defaults(**{k: (str(v) if isinstance(v, float) else v) for k, v in values.items()})
        for action in self._actions:
            if action.dest in values and action.required:
                action.required = False


@dataclass
class EnsembleArguments:
    members: list[str] = field(
        default_factory=lambda: ["outputs/kcelectra", "outputs/soongsilbert", "outputs/roberta"],
        metadata={"help": "Member output folders (each with predictions/val.npz)."},
    )
    output_dir: str = field(default="outputs/ensemble", metadata={"help": "Where ensemble.json goes."})
    objective: str = field(
        default="f1_macro_tuned",
        metadata={"help": "f1_macro_tuned (val macro F1 with tuned thresholds) or logloss."},
    )
    calibrate: str = field(
        default="none",
        metadata={
            "help": "none, or temperature: fit one temperature per member on val (minimum log loss) and "
            "mix the calibrated scores; stored in ensemble.json and applied at inference too."
        },
    )

    def __post_init__(self) -> None:
        from .calibration import CALIBRATIONS
        from .weight_search import OBJECTIVES

        if self.objective not in OBJECTIVES:
            raise InvalidArgument(
                f"--objective must be one of {', '.join(OBJECTIVES)}, got {self.objective!r}"
            )
        if self.calibrate not in CALIBRATIONS:
            raise InvalidArgument(
                f"--calibrate must be one of {', '.join(CALIBRATIONS)}, got {self.calibrate!r}"
            )


@dataclass
class EnsembleDirArguments:
    ensemble_dir: str = field(default="outputs/ensemble", metadata={"help": "Folder holding ensemble.json."})
    seed: int = field(
        default=42, metadata={"help": "Seed of the cross-validation folds and the bootstrap resamples."}
    )


@dataclass
class ThresholdArguments(EnsembleDirArguments):
    threshold_choice: str = field(
        default="auto",
        metadata={
            "help": "tuned: tune every label's threshold on val; per_label: a label keeps 0.5 unless its "
            "tuned threshold beats 0.5 out of fold; auto (default): per_label when its cross-validated "
            "val macro F1 is no worse than tuned, else tuned."
        },
    )
    cv_folds: int = field(default=5, metadata={"help": "Folds of the cross-validation on val."})

    def __post_init__(self) -> None:
        from .cross_validation import THRESHOLD_CHOICES

        if self.threshold_choice not in THRESHOLD_CHOICES:
            raise InvalidArgument(
                f"--threshold_choice must be one of {', '.join(THRESHOLD_CHOICES)}, got {self.threshold_choice!r}"
            )
        if self.cv_folds < 2:
            raise InvalidArgument(f"--cv_folds must be at least 2, got {self.cv_folds}")


@dataclass
class EvaluationArguments(EnsembleDirArguments):
    force: bool = field(
        default=False, metadata={"help": "Evaluate the test set again (it is meant to run once)."}
    )
    bootstrap_resamples: int = field(
        default=1000, metadata={"help": "Bootstrap resamples of the test rows for the 95%% intervals."}
    )
    errors_per_label: int = field(
        default=20,
        metadata={"help": "report/errors.tsv: false positives and false negatives listed per label."},
    )
    explain_errors: bool = field(
        default=True,
        metadata={
            "help": "Give each errors.tsv row the spans behind its score (occlusion: loads the members and "
            "rescores each listed comment once per span); --explain_errors false skips it."
        },
    )

    def __post_init__(self) -> None:
        if self.bootstrap_resamples < 100:
            raise InvalidArgument(
                f"--bootstrap_resamples must be at least 100, got {self.bootstrap_resamples}"
            )
        if self.errors_per_label < 0:
            raise InvalidArgument(f"--errors_per_label must be >= 0, got {self.errors_per_label}")


@dataclass
class RobustnessArguments(EnsembleDirArguments):
    rate: float = field(
        default=0.3,
        metadata={"help": "Share of the syllables, words or characters each spelling game touches."},
    )
    seed: int = field(default=42, metadata={"help": "Seed of the perturbed test split (fixed per run)."})
    backend: str = field(default="torch", metadata={"help": "torch or onnx (the exported copies)."})

    def __post_init__(self) -> None:
        if not 0.0 < self.rate <= 1.0:
            raise InvalidArgument(f"--rate must be in (0, 1], got {self.rate}")
        if self.backend not in ("torch", "onnx"):
            raise InvalidArgument(f"--backend must be torch or onnx, got {self.backend!r}")


@dataclass
class FunctionalTestsArguments:
    ensemble_dir: str = field(default="outputs/ensemble", metadata={"help": "Folder holding ensemble.json."})
    suite: str = field(
        default="",
        metadata={
            "help": "Suite TSV (default: the shipped Korean suite, hf_trainer/functional_suite/cases.tsv)."
        },
    )
    backend: str = field(default="torch", metadata={"help": "torch or onnx (the exported copies)."})
    batch_size: int = field(default=64, metadata={"help": "Comments per forward pass."})

    def __post_init__(self) -> None:
        if self.backend not in ("torch", "onnx"):
            raise InvalidArgument(f"--backend must be torch or onnx, got {self.backend!r}")
        if self.batch_size < 1:
            raise InvalidArgument(f"--batch_size must be at least 1, got {self.batch_size}")


@dataclass
class AppArguments:
    ensemble_dir: str = field(default="outputs/ensemble", metadata={"help": "Ensemble folder or Hub id."})
    backend: str = field(default="torch", metadata={"help": "torch or onnx (the exported copies)."})
    host: str = field(
        default="127.0.0.1",
        metadata={"help": "Address to bind: 127.0.0.1 (this machine only) unless you mean to serve others."},
    )
    port: int = field(default=7860, metadata={"help": "Port to serve on."})

    def __post_init__(self) -> None:
        if self.backend not in ("torch", "onnx"):
            raise InvalidArgument(f"--backend must be torch or onnx, got {self.backend!r}")
        if not 1 <= self.port <= 65535:
            raise InvalidArgument(f"--port must be in 1-65535, got {self.port}")


@dataclass
class ExportArguments:
    ensemble_dir: str = field(default="outputs/ensemble", metadata={"help": "Folder holding ensemble.json."})
    quantize: str = field(
        default="none", metadata={"help": "none, or int8: also write a dynamically quantised int8 copy."}
    )
    min_agreement: float = field(
        default=MIN_AGREEMENT,
        metadata={
            "help": "Share of the checked (comment, label) decisions a copy must share with PyTorch fp32 "
            "at the ensemble's thresholds to be valid."
        },
    )
    check_rows: int = field(
        default=CHECK_ROWS,
        metadata={
            "help": "Comments of the agreement check, at most: the test split's texts (labels unused), "
            "or the lines of --check_file."
        },
    )
    check_file: str | None = field(
        default=None,
        metadata={
            "help": "A UTF-8 file of unlabelled comments, one per line, that the members never trained or tuned "
            "on, for the agreement check instead of the test split's texts."
        },
    )

    def __post_init__(self) -> None:
        if self.quantize not in ("none", "int8"):
            raise InvalidArgument(f"--quantize must be none or int8, got {self.quantize!r}")
        if not 0.0 < self.min_agreement <= 1.0:
            raise InvalidArgument(f"--min_agreement must be in (0, 1], got {self.min_agreement}")
        if self.check_rows < 1:
            raise InvalidArgument(f"--check_rows must be at least 1, got {self.check_rows}")
