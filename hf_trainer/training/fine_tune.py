"""One transformer member's training run with the Trainer: build it, train, save the best checkpoint,
the predictions of every split and metrics.json (recipes/train.py calls it through the member registry)."""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path
from typing import NamedTuple

import numpy as np
from transformers import DataCollatorWithPadding, EarlyStoppingCallback

from ..data.aeda import original_rows
from ..data.arguments import DataArguments
from ..data.loading import tokenize_splits
from ..data.perturb import without_spelling_copies
from ..metrics.multilabel import make_compute_metrics
from ..utils import io
from .arguments import ModelArguments, RecipeTrainingArguments
from .modeling import load_model_and_tokenizer
from .predictions import save_predictions
from .preflight import checkpoint_bytes, kept_checkpoints, run_preflight
from .run_outputs import resume_checkpoint, run_metrics
from .trainer import (
    EpochSummaryCallback,
    MultiLabelTrainer,
    NonFiniteLossCallback,
    check_identical_across_ranks,
    compute_pos_weight,
    length_order,
)

logger = logging.getLogger(__name__)


class MemberTrainer(NamedTuple):
    trainer: MultiLabelTrainer
    tokenized: dict  # the tokenised splits
    weights: object  # modeling.WeightsSource, None for a tiny preset built from scratch
    pos_weight: np.ndarray


def build_trainer(
    model_args: ModelArguments, data_args: DataArguments, training_args: RecipeTrainingArguments, splits
) -> MemberTrainer:
    """The Trainer of one member: model, tokenised splits, pos_weight loss, early stopping."""
    schema = data_args.schema
    model, tokenizer, weights = load_model_and_tokenizer(
        schema=schema,
        train_texts=splits["train"]["text"],
        max_length=data_args.max_length,
        **dataclasses.asdict(model_args),  # the ModelArguments fields are the loader's keyword arguments
    )
    with training_args.main_process_first(desc="tokenisation"):
        tokenized = tokenize_splits(
            splits, tokenizer, data_args.max_length, data_args.preprocessing_num_workers
        )
    pos_weight = compute_pos_weight(np.asarray(splits["train"]["labels"]))
    check_identical_across_ranks(pos_weight, "pos_weight", training_args.device)
    logger.info(
        "pos_weight: %s", ", ".join(f"{n} {w:.2f}" for n, w in zip(schema.names, pos_weight, strict=True))
    )
    callbacks = [NonFiniteLossCallback()]
    if training_args.early_stopping_patience > 0:
        callbacks.append(
            EarlyStoppingCallback(
                training_args.early_stopping_patience, training_args.early_stopping_threshold
            )
        )
    callbacks.append(EpochSummaryCallback(training_args.metric_for_best_model))
    trainer = MultiLabelTrainer(
        model=model,
        args=training_args,
        train_dataset=tokenized["train"],
        # Validation metrics do not depend on row order: evaluated shortest first, batches pad little.
        eval_dataset=tokenized["validation"].select(length_order(tokenized["validation"])),
        processing_class=tokenizer,
        # Pad per batch, to a multiple of 8 under mixed precision (tensor-core friendly shapes).
        data_collator=DataCollatorWithPadding(
            tokenizer, pad_to_multiple_of=8 if (training_args.fp16 or training_args.bf16) else None
        ),
        compute_metrics=make_compute_metrics(schema.names),
        callbacks=callbacks,
        pos_weight=pos_weight,
    )
    return MemberTrainer(trainer, tokenized, weights, pos_weight)


def preflight_transformer(model_args, data_args, training_args, splits) -> dict:
    """The preflight checks of one transformer member (`preflight.run_preflight`)."""
    trainer = build_trainer(model_args, data_args, training_args, splits).trainer
    # The [UNK] check reads the comments as written: spelling-game copies are meant to be hard to read.
    written = without_spelling_copies(original_rows(splits["train"]))["text"]
    return run_preflight(
        trainer,
        trainer.processing_class,
        written,
        name=model_args.member_name,
        max_length=data_args.max_length,
        run_models=training_args.preflight_run_models,
    )


def train_transformer(model_args, data_args, training_args, splits, data_report: dict) -> dict:
    """Train one member and write its folder: best checkpoint, pos_weight.json, run_config.json,
    trainer_state.json, predictions/{val,test}.npz and metrics.json. Returns the metrics."""
    schema, output_dir = data_args.schema, Path(training_args.output_dir)
    trainer, tokenized, weights, pos_weight = build_trainer(model_args, data_args, training_args, splits)
    base_model = weights.to_dict() if weights else None
    if trainer.is_world_process_zero():
        io.write_json(
            output_dir / "pos_weight.json", dict(zip(schema.names, pos_weight.tolist(), strict=True))
        )
        io.write_json(output_dir / "run_config.json", {
            "model": dataclasses.asdict(model_args), "data": dataclasses.asdict(data_args),
            "training": training_args.to_dict(), "labels": list(schema.names), "base_model": base_model,
            "data_source": data_report.get("source"),
        })  # fmt: skip
    io.check_free_space(
        output_dir,
        checkpoint_bytes(trainer.model) * kept_checkpoints(training_args),
        "training with checkpoints",
    )
    with io.explain_write_errors(output_dir):
        train_result = trainer.train(resume_from_checkpoint=resume_checkpoint(training_args))
        trainer.save_model()  # the best checkpoint (load_best_model_at_end) as safetensors + tokenizer
        trainer.save_state()
    predictions = {
        split: trainer.predict_probabilities(tokenized[split])
        for split in ("validation", "test")
        if split in tokenized
    }
    if not trainer.is_world_process_zero():
        return {}
    metrics = run_metrics(
        schema=schema, val_probs=predictions["validation"][0], val_labels=predictions["validation"][1],
        log_history=trainer.state.log_history, metric=training_args.metric_for_best_model,
        train_runtime=train_result.metrics.get("train_runtime", 0.0), global_step=trainer.state.global_step,
        max_steps=trainer.state.max_steps, data_report=data_report, pos_weight=pos_weight,
        precision=training_args.precision_note, base_model=base_model,
    )  # fmt: skip
    io.write_json(output_dir / "metrics.json", metrics)
    for split, (probs, labels) in predictions.items():
        path = save_predictions(output_dir, "val" if split == "validation" else split, splits[split]["id"], probs,
                                labels, schema)  # fmt: skip
        logger.info("Wrote %s (%d rows)", path, len(probs))
    logger.info(
        "Done: best val F1-macro %.4f at epoch %s (%s epochs run); saved to %s",
        metrics["val"]["f1_macro"], metrics["best_epoch"], metrics["epochs_trained"], output_dir,
    )  # fmt: skip
    return metrics
