"""The arguments of a training run: the model (`ModelArguments`), the Trainer's (`RecipeTrainingArguments`,
every TrainingArguments flag plus the design's defaults), and their parser with the data arguments."""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from pathlib import Path

import torch
from transformers import TrainingArguments

from ..data.arguments import DataArguments
from ..utils.arguments import RecipeArgumentParser
from ..utils.errors import InvalidArgument
from .presets import PRESETS, SPELLING_COPIES_BY_KIND, member_name, model_kind


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
    freeze_embeddings: bool | None = field(
        default=None,
        metadata={
            "help": "Keep the word-embedding table fixed (default: on for e5-small, whose 250k-row table is "
            "96M of its 118M parameters; off otherwise)."
        },
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
        return member_name(self.trained_from)

    @property
    def trained_from(self) -> str:
        """The model this run starts from: the checkpoint or Hub id, else the preset."""
        return self.model_name_or_path or self.model or "model"

    @property
    def kind(self) -> str:
        """The member kind this run trains (the preset's; a checkpoint or Hub id is a transformer)."""
        return model_kind(None if self.model_name_or_path else self.model)


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
    # transformers' own pushes during training (every_save, its default) upload the whole output folder,
    # training_args.bin (a pickle) and, under DDP, the prepared data included; `end` pushes once,
    # after training, the member's own file list (hub.publish_member).
    hub_strategy: str = field(
        default="end",
        metadata={
            "help": "With --push_to_hub: end (default here): the final model once, without pickles or data; "
            "every_save, checkpoint, all_checkpoints: transformers' pushes during training as well, which "
            "also upload training_args.bin (a pickle)."
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


def parse_train_args(
    args: list[str] | None = None,
) -> tuple[ModelArguments, DataArguments, RecipeTrainingArguments]:
    parser = RecipeArgumentParser((ModelArguments, DataArguments, RecipeTrainingArguments))
    model_args, data_args, training_args = parser.parse(args)
    if not training_args.output_dir_given:
        training_args.output_dir = str(Path("outputs") / model_args.member_name)
    if data_args.spelling_copies is None:
        data_args.spelling_copies = SPELLING_COPIES_BY_KIND[model_args.kind]
    return model_args, data_args, training_args
