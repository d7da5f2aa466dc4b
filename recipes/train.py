"""Fine-tune one encoder for multi-label UnSmile classification.

    accelerate launch recipes/train.py --model kcelectra
    python recipes/train.py recipes/configs/roberta.yaml --epochs 100 --lr 3e-5
    python recipes/train.py --model tiny-electra --data_dir ../shared/data/unsmile --epochs 2
    python recipes/train.py --model char-ngram --data_dir ../shared/data/unsmile   # CPU, seconds

Every TrainingArguments flag works; a YAML recipe given first sets defaults that flags override.
Writes to --output_dir (default outputs/<model>): the best checkpoint (safetensors, tokenizer,
config), pos_weight.json, metrics.json, run_config.json, trainer_state.json and
predictions/{val,test}.npz. The test probabilities are written, not scored: that happens once,
in recipes/evaluate_test.py.
"""

from __future__ import annotations

import dataclasses
import logging
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a checkout without install

import numpy as np
from transformers import DataCollatorWithPadding, EarlyStoppingCallback, set_seed

from hf_trainer import io
from hf_trainer.char_ngram import train_char_ngram
from hf_trainer.configs import parse_train_args
from hf_trainer.data import tokenize_splits
from hf_trainer.ensemble import save_predictions
from hf_trainer.errors import run_recipe
from hf_trainer.log import setup_logging
from hf_trainer.metrics import make_compute_metrics
from hf_trainer.modeling import PRESETS, load_model_and_tokenizer
from hf_trainer.preflight import checkpoint_bytes, kept_checkpoints, run_preflight
from hf_trainer.preparation import prepare_splits_once
from hf_trainer.run_outputs import resume_checkpoint, run_metrics
from hf_trainer.trainer import (
    EpochSummaryCallback,
    MultiLabelTrainer,
    NonFiniteLossCallback,
    check_identical_across_ranks,
    compute_pos_weight,
)

logger = logging.getLogger("hf_trainer.train")


def main(argv: list[str] | None = None) -> dict:
    model_args, data_args, training_args = parse_train_args(argv)
    setup_logging(logging.INFO if training_args.should_log else logging.WARNING)
    logger.info("Model %s -> %s", model_args.model_name_or_path or model_args.model, training_args.output_dir)
    logger.info("Precision: %s", training_args.precision_note)
    output_dir = Path(training_args.output_dir)
    preflight_made_output_dir = training_args.preflight_only and not output_dir.exists()
    if training_args.preflight_only:  # the preflight leaves nothing behind: no folder, no Hub repository
        training_args.push_to_hub = False
    else:
        io.ensure_writable(output_dir)
    set_seed(training_args.seed)
    schema = data_args.schema

    splits, data_report = prepare_splits_once(data_args, training_args)
    preset = PRESETS.get(model_args.model or "")
    if preset is not None and preset.char_ngram and not model_args.model_name_or_path:
        if training_args.preflight_only:  # nothing to download, no GPU step: the data loaded, that is all
            logger.info(
                "Preflight char-ngram: passed (a CPU model: no weights to load, no training step to try)"
            )
            return {"model": "char-ngram", "problems": []}
        if training_args.process_index != 0:  # launched on several processes: one CPU fit is enough
            logger.info("char-ngram trains in the main process only; process %d has nothing to do",
                        training_args.process_index)  # fmt: skip
            return {"model": "char-ngram", "skipped": True}
        return train_char_ngram(
            splits, schema, output_dir, data_report, training_args.seed, dataclasses.asdict(data_args)
        )
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
        eval_dataset=tokenized["validation"],
        processing_class=tokenizer,
        # Pad per batch, to a multiple of 8 under mixed precision (tensor-core friendly shapes).
        data_collator=DataCollatorWithPadding(
            tokenizer, pad_to_multiple_of=8 if (training_args.fp16 or training_args.bf16) else None
        ),
        compute_metrics=make_compute_metrics(schema.names),
        callbacks=callbacks,
        pos_weight=pos_weight,
    )
    if training_args.preflight_only:
        try:
            return run_preflight(
                trainer,
                tokenizer,
                splits["train"]["text"],
                name=model_args.member_name,
                max_length=data_args.max_length,
                run_models=training_args.preflight_run_models,
            )
        finally:
            if preflight_made_output_dir and output_dir.is_dir() and not any(output_dir.iterdir()):
                output_dir.rmdir()  # the Trainer creates it; the training stage must find none
    base_model = weights.to_dict() if weights else None
    if trainer.is_world_process_zero():
        io.write_json(
            output_dir / "pos_weight.json", dict(zip(schema.names, pos_weight.tolist(), strict=True))
        )
        io.write_json(
            output_dir / "run_config.json",
            {
                "model": dataclasses.asdict(model_args),
                "data": dataclasses.asdict(data_args),
                "training": training_args.to_dict(),
                "labels": list(schema.names),
                "base_model": base_model,
                "data_source": data_report.get("source"),
            },
        )

    io.check_free_space(
        output_dir,
        checkpoint_bytes(model) * kept_checkpoints(training_args),
        "training with checkpoints",
    )
    with io.explain_write_errors(output_dir):
        train_result = trainer.train(resume_from_checkpoint=resume_checkpoint(training_args))
        trainer.save_model()  # the best checkpoint (load_best_model_at_end) as safetensors + tokenizer
        trainer.save_state()

    predictions = {}
    for split in ("validation", "test"):
        if split in tokenized:
            predictions[split] = trainer.predict_probabilities(tokenized[split])
    if not trainer.is_world_process_zero():
        return {}
    for split, (probs, labels) in predictions.items():
        name = "val" if split == "validation" else split
        path = save_predictions(output_dir, name, splits[split]["id"], probs, labels, schema)
        logger.info("Wrote %s (%d rows)", path, len(probs))
    metrics = run_metrics(
        schema=schema,
        val_probs=predictions["validation"][0],
        val_labels=predictions["validation"][1],
        log_history=trainer.state.log_history,
        metric=training_args.metric_for_best_model,
        train_runtime=train_result.metrics.get("train_runtime", 0.0),
        global_step=trainer.state.global_step,
        max_steps=trainer.state.max_steps,
        data_report=data_report,
        pos_weight=pos_weight,
        precision=training_args.precision_note,
        base_model=base_model,
    )
    io.write_json(output_dir / "metrics.json", metrics)
    if training_args.push_to_hub:
        trainer.push_to_hub(commit_message=f"Best checkpoint: val macro F1 {metrics['val']['f1_macro']:.4f}")
    logger.info(
        "Done: best val F1-macro %.4f at epoch %s (%s epochs run); saved to %s",
        metrics["val"]["f1_macro"],
        metrics["best_epoch"],
        metrics["epochs_trained"],
        output_dir,
    )
    return metrics


if __name__ == "__main__":
    sys.exit(run_recipe(main))
