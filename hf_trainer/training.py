"""Glue between the pieces of one training run: data preparation and the run's result files."""

from __future__ import annotations

import dataclasses
import logging
import time
from pathlib import Path

import numpy as np
from datasets import DatasetDict
from transformers.trainer_utils import get_last_checkpoint

from . import io
from .aeda import augment_minority_classes
from .configs import DataArguments, RecipeTrainingArguments
from .data import load_splits, report_overlap
from .ensemble import predictions_path
from .labels import LabelSchema
from .metrics import multilabel_metrics

logger = logging.getLogger(__name__)

PREPARED_REPORT = "data_report.json"


def read_prepared_report(folder: str | Path) -> dict:
    report = Path(folder) / PREPARED_REPORT
    if not report.is_file():
        raise FileNotFoundError(f"{report} not found: write the splits with recipes/prepare_data.py first")
    return io.read_json(report)


def read_prepared_labels(folder: str | Path) -> list[str]:
    return read_prepared_report(folder)["labels"]


def save_prepared_splits(splits: DatasetDict, report: dict, labels: list[str], folder: str | Path) -> Path:
    """Write the splits (Arrow) and the data report; the report goes last and marks the folder complete."""
    folder = Path(folder)
    splits.save_to_disk(str(folder / "splits"))
    io.write_json(folder / PREPARED_REPORT, {**report, "labels": list(labels)})
    return folder


def prepare_splits(data_args: DataArguments, seed: int) -> tuple[DatasetDict, dict]:
    """Load, validate and split the data, then AEDA on train. Returns the splits and a data report.

    With `prepared_data_dir`, read the splits written earlier by `save_prepared_splits` instead.
    """
    if data_args.prepared_data_dir:
        # The label schema itself comes from this folder's report (DataArguments.schema).
        report = read_prepared_report(data_args.prepared_data_dir)
        splits = DatasetDict.load_from_disk(str(Path(data_args.prepared_data_dir) / "splits"))
        logger.info("Loaded prepared splits from %s: %s", data_args.prepared_data_dir, report["rows"])
        return splits, report
    start = time.perf_counter()
    schema = data_args.schema
    splits = load_splits(
        schema,
        data_dir=data_args.data_dir,
        dataset_name=data_args.dataset_name,
        train_file=data_args.train_file,
        validation_file=data_args.validation_file,
        test_file=data_args.test_file,
        text_column=data_args.text_column,
        label_columns=data_args.label_column_list,
        label_list_column=data_args.label_list_column,
        val_size=data_args.val_size,
        split_seed=data_args.split_seed,
        max_train_samples=data_args.max_train_samples,
        max_eval_samples=data_args.max_eval_samples,
    )
    overlap = report_overlap(splits)
    original_train_rows = len(splits["train"])
    splits["train"], added = augment_minority_classes(
        splits["train"],
        schema.names,
        max_ratio=data_args.aeda_max_ratio,
        factor=data_args.aeda_factor,
        punc_ratio=data_args.aeda_punc_ratio,
        seed=seed,
    )
    report = {
        "rows": {name: len(split) for name, split in splits.items()},
        "train_rows_before_aeda": original_train_rows,
        "aeda_rows_added": added,
        "texts_in_several_splits": overlap,
        "prepare_seconds": round(time.perf_counter() - start, 2),
    }
    return splits, report


def prepare_splits_once(
    data_args: DataArguments, training_args: RecipeTrainingArguments
) -> tuple[DatasetDict, dict]:
    """`prepare_splits`, run by one process per node under data parallelism and shared through disk.

    The local main process prepares and saves the splits under output_dir; the other ranks wait
    (`main_process_first`) and read the same files, so every rank trains on identical rows.
    """
    if data_args.prepared_data_dir or training_args.world_size <= 1:
        return prepare_splits(data_args, training_args.seed)
    shared = Path(training_args.output_dir) / "prepared_data"
    with training_args.main_process_first(local=True, desc="data preparation"):
        if training_args.local_process_index == 0:
            splits, report = prepare_splits(data_args, training_args.seed)
            save_prepared_splits(splits, report, list(data_args.schema.names), shared)
    return prepare_splits(dataclasses.replace(data_args, prepared_data_dir=str(shared)), training_args.seed)


def resume_checkpoint(training_args: RecipeTrainingArguments) -> str | None:
    """The checkpoint to resume from: the explicit one, else the last one in output_dir."""
    if training_args.resume_from_checkpoint:
        return training_args.resume_from_checkpoint
    if training_args.auto_resume and Path(training_args.output_dir).is_dir():
        last = get_last_checkpoint(training_args.output_dir)
        if last:
            logger.info("Resuming from %s (pass --no_auto_resume to start over)", last)
        return last
    return None


def best_epoch(log_history: list[dict], metric: str) -> tuple[float | None, dict]:
    """The epoch and eval log entry with the best value of `metric` (first one on ties)."""
    key = metric if metric.startswith("eval_") else f"eval_{metric}"
    evals = [entry for entry in log_history if key in entry]
    if not evals:
        return None, {}
    best = max(evals, key=lambda entry: entry[key])  # max returns the first maximal entry
    return best.get("epoch"), best


def save_predictions(
    output_dir: str | Path,
    split: str,
    ids: list[int],
    probs: np.ndarray,
    labels: np.ndarray,
    schema: LabelSchema,
) -> Path:
    """Write `predictions/<split>.npz`: sigmoid `probs`, `labels`, row `ids`, `label_names`."""
    if not (len(ids) == len(probs) == len(labels)):
        raise ValueError(f"{split}: {len(ids)} ids, {len(probs)} probability rows, {len(labels)} label rows")
    path = predictions_path(output_dir, split)
    io.write_npz(
        path,
        probs=probs.astype(np.float32),
        labels=labels.astype(np.float32),
        ids=np.asarray(ids, dtype=np.int64),
        label_names=np.asarray(schema.names),
    )
    return path


def run_metrics(
    *,
    schema: LabelSchema,
    val_probs: np.ndarray,
    val_labels: np.ndarray,
    log_history: list[dict],
    metric: str,
    train_runtime: float,
    global_step: int,
    max_steps: int,
    data_report: dict,
    pos_weight: np.ndarray,
    precision: str,
) -> dict:
    """Everything `metrics.json` says about a finished run."""
    epoch, best_log = best_epoch(log_history, metric)
    epochs_run = max((entry.get("epoch", 0) for entry in log_history), default=0)
    return {
        "best_epoch": epoch,
        "epochs_trained": epochs_run,
        "early_stopped": global_step < max_steps,
        "best_val_loss": best_log.get("eval_loss"),
        "val": multilabel_metrics(val_probs, val_labels, schema.names, 0.5),
        "train_runtime_s": round(train_runtime, 1),
        "pos_weight": dict(zip(schema.names, pos_weight.tolist(), strict=True)),
        "precision": precision,
        "data": data_report,
    }
