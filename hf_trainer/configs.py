"""Argument dataclasses and the parser: a YAML recipe first, command-line flags override it."""

from __future__ import annotations

import difflib
import functools
import logging
import sys
from dataclasses import dataclass, field
from pathlib import Path

import torch
import yaml
from transformers import HfArgumentParser, TrainingArguments

from .data import read_prepared_labels
from .errors import InputNotFound, InvalidArgument, recover_utf8_argv
from .labels import UNSMILE_HUB_DATASET, UNSMILE_LABELS, UNSMILE_TEXT_COLUMN, LabelSchema
from .modeling import PRESETS, member_name, model_kind

logger = logging.getLogger(__name__)

# The ONNX export's agreement check (hf_trainer/export.py): the share of decisions a copy must keep,
# and how many comments it is checked on (validation first, then original train rows).
MIN_AGREEMENT = 0.995
CHECK_ROWS = 3000


@dataclass
class ModelArguments:
    model: str | None = field(
        default="kcelectra",
        metadata={
            "help": f"Model preset: {', '.join(PRESETS)}. Ignored for loading when --model_name_or_path is set."
        },
    )
    model_name_or_path: str | None = field(
        default=None,
        metadata={"help": "Any Hub id or local checkpoint folder; overrides the preset's Hub id."},
    )
    tokenizer_name: str | None = field(default=None, metadata={"help": "Tokenizer, if not the model's."})
    revision: str | None = field(
        default=None,
        metadata={"help": "Hub revision (branch, tag or commit) to pin; default: the preset's, else main."},
    )
    classifier_dropout: float = field(default=0.3, metadata={"help": "Dropout before the classifier."})
    ignore_mismatched_sizes: bool | None = field(
        default=None,
        metadata={"help": "Re-initialise a classifier head of another shape (default: on for soongsilbert)."},
    )
    attn_implementation: str | None = field(default="sdpa", metadata={"help": "sdpa, eager, ..."})
    use_safetensors: bool | None = field(
        default=None,
        metadata={
            "help": "Unset: safetensors when the repository has them, else pytorch_model.bin through torch's "
            "weights_only loader (tensors only, never code). true: safetensors only. false: the .bin file."
        },
    )
    trust_remote_code: bool = field(
        default=False, metadata={"help": "Run code from the model repository. Off unless you trust it."}
    )
    tiny_vocab_size: int = field(
        default=8000, metadata={"help": "Vocabulary of the tiny presets' tokenizer."}
    )

    def __post_init__(self) -> None:
        if self.model is not None and self.model not in PRESETS:
            close = difflib.get_close_matches(self.model, PRESETS, n=1)
            hint = f" Did you mean '{close[0]}'?" if close else ""
            raise InvalidArgument(f"unknown --model {self.model!r}; choose one of {list(PRESETS)}.{hint}")

    @property
    def member_name(self) -> str:
        """The name of this model's output folder and of its member in an ensemble."""
        return member_name(self.model_name_or_path or self.model or "model")

    @property
    def trained_from(self) -> str:
        """The model this run starts from: the checkpoint or Hub id, else the preset."""
        return self.model_name_or_path or self.model or "model"

    @property
    def kind(self) -> str:
        """The member kind this run trains (the preset's; a checkpoint or Hub id is a transformer)."""
        return model_kind(None if self.model_name_or_path else self.model)


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

    @functools.cached_property
    def schema(self) -> LabelSchema:
        """The label schema, worked out once: a prepared folder's report, --class_names,
        --label_columns, or UnSmile's ten labels."""
        if self.prepared_data_dir:
            return LabelSchema.from_names(read_prepared_labels(self.prepared_data_dir))
        if self.class_names:
            return LabelSchema.from_comma_list(self.class_names)
        if self.label_columns:
            return LabelSchema.from_comma_list(self.label_columns)
        return LabelSchema(UNSMILE_LABELS)

    @property
    def label_column_list(self) -> list[str] | None:
        return [c.strip() for c in self.label_columns.split(",") if c.strip()] if self.label_columns else None


@dataclass
class RecipeTrainingArguments(TrainingArguments):
    """TrainingArguments with the design's defaults; every TrainingArguments flag stays available."""

    output_dir: str | None = field(default=None, metadata={"help": "Default: outputs/<model>."})
    num_train_epochs: float = field(default=80, metadata={"help": "Maximum epochs.", "aliases": ["--epochs"]})
    learning_rate: float = field(
        default=2e-5, metadata={"help": "Peak AdamW learning rate.", "aliases": ["--lr"]}
    )
    weight_decay: float = field(default=0.01)
    warmup_steps: float = field(default=500)
    lr_scheduler_type: str = field(default="cosine")
    per_device_train_batch_size: int = field(default=16)
    per_device_eval_batch_size: int = field(default=64)
    max_grad_norm: float = field(default=1.0)
    eval_strategy: str = field(default="epoch")
    save_strategy: str = field(default="epoch")
    logging_strategy: str = field(default="epoch")
    load_best_model_at_end: bool = field(default=True)
    metric_for_best_model: str | None = field(default="f1_macro")
    greater_is_better: bool | None = field(default=True)
    save_total_limit: int | None = field(default=2)
    train_sampling_strategy: str = field(default="group_by_length")
    ddp_find_unused_parameters: bool | None = field(default=False)
    dataloader_num_workers: int = field(
        default=-1, metadata={"help": "Dataloader worker processes (-1: 2 on CUDA, 0 on CPU)."}
    )
    # NaN/inf losses must reach the logs so that training stops on them instead of hiding them.
    logging_nan_inf_filter: bool = field(default=False)
    precision: str = field(
        default="auto",
        metadata={
            "help": "auto (fp16 on CUDA, fp32 on CPU), fp16 (CUDA only), bf16 (on CUDA if the GPU supports it, "
            "else fp16; CPU autocast without a GPU) or no."
        },
    )
    early_stopping_patience: int = field(
        default=10, metadata={"help": "Epochs without improvement (0 = off)."}
    )
    early_stopping_threshold: float = field(
        default=0.001, metadata={"help": "Minimum improvement that counts."}
    )
    auto_resume: bool = field(
        default=True, metadata={"help": "Resume from the last checkpoint in output_dir when there is one."}
    )
    overwrite_output_dir: bool = field(
        default=False,
        metadata={
            "help": "When --output_dir holds a member of another kind or model, move it aside "
            "(<dir>.old-<time>) instead of stopping."
        },
    )
    # Resuming must restore the early-stopping count too (transformers' default does not).
    restore_callback_states_from_checkpoint: bool = field(default=True)
    preflight_only: bool = field(
        default=False,
        metadata={
            "help": "Check this model and stop: loading, [UNK] share, truncation, one forward/backward pass, "
            "disk, and a time estimate. run_all.sh runs it for every model before the first training."
        },
    )
    preflight_run_models: int = field(
        default=1, metadata={"help": "Models the whole run trains, for the preflight disk check."}
    )

    def __post_init__(self) -> None:
        self.output_dir_given = self.output_dir is not None
        if self.precision not in ("auto", "fp16", "bf16", "no"):
            raise InvalidArgument(f"--precision must be auto, fp16, bf16 or no, got {self.precision!r}")
        if not (self.fp16 or self.bf16):
            self.precision_note = self._choose_precision()
        else:
            self.precision_note = "fp16" if self.fp16 else "bf16"
            self.precision_note += " (set by --fp16/--bf16)"
        cuda = torch.cuda.is_available() and not self.use_cpu
        if not cuda:
            self.dataloader_pin_memory = False  # nothing to pin to without a GPU
            if not torch.backends.mps.is_available():
                # Without it, torchrun on a CPU-only machine starts processes that do not form a DDP group.
                self.use_cpu = True
        if self.dataloader_num_workers < 0:
            self.dataloader_num_workers = 2 if cuda else 0
        if cuda and self.tf32 is None and torch.cuda.get_device_capability()[0] >= 8:
            self.tf32 = True  # Ampere and newer: TF32 matmuls for whatever still runs in fp32
        super().__post_init__()

    def _choose_precision(self) -> str:
        cuda = torch.cuda.is_available() and not self.use_cpu
        if self.precision == "no":
            return "fp32 (mixed precision off by --precision no)"
        if not cuda and self.precision == "bf16":
            self.bf16 = True  # real autocast on CPU (accelerate), unlike fp16, which would do nothing there
            return "bf16 autocast on CPU (saves memory; for small models often slower than fp32)"
        if not cuda:
            return "fp32: no CUDA device, so no mixed precision (fp16 on CPU would do nothing)"
        if self.precision == "bf16" and torch.cuda.is_bf16_supported():
            self.bf16 = True
            return "bf16 mixed precision on CUDA"
        self.fp16 = True
        if self.precision == "bf16":
            return "fp16 mixed precision: this GPU does not support bf16"
        return "fp16 mixed precision on CUDA"


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


def parse_train_args(
    args: list[str] | None = None,
) -> tuple[ModelArguments, DataArguments, RecipeTrainingArguments]:
    parser = RecipeArgumentParser((ModelArguments, DataArguments, RecipeTrainingArguments))
    model_args, data_args, training_args = parser.parse(args)
    if not training_args.output_dir_given:
        training_args.output_dir = str(Path("outputs") / model_args.member_name)
    return model_args, data_args, training_args


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
        default=1000, metadata={"help": "Bootstrap resamples of the test rows for the 95% intervals."}
    )
    errors_per_label: int = field(
        default=20,
        metadata={"help": "report/errors.tsv: false positives and false negatives listed per label."},
    )

    def __post_init__(self) -> None:
        if self.bootstrap_resamples < 100:
            raise InvalidArgument(
                f"--bootstrap_resamples must be at least 100, got {self.bootstrap_resamples}"
            )
        if self.errors_per_label < 0:
            raise InvalidArgument(f"--errors_per_label must be >= 0, got {self.errors_per_label}")


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
            "help": "Comments of the agreement check: validation first, then original train rows (never test)."
        },
    )

    def __post_init__(self) -> None:
        if self.quantize not in ("none", "int8"):
            raise InvalidArgument(f"--quantize must be none or int8, got {self.quantize!r}")
        if not 0.0 < self.min_agreement <= 1.0:
            raise InvalidArgument(f"--min_agreement must be in (0, 1], got {self.min_agreement}")
        if self.check_rows < 1:
            raise InvalidArgument(f"--check_rows must be at least 1, got {self.check_rows}")
