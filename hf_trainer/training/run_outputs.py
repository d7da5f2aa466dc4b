"""What a training run leaves behind: where it resumes from, its predictions, its metrics.json."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
from transformers.trainer_utils import get_last_checkpoint

from ..data.labels import LabelSchema
from ..metrics.multilabel import multilabel_metrics
from .arguments import RecipeTrainingArguments

logger = logging.getLogger(__name__)


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
    base_model: dict | None = None,
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
        "base_model": base_model,
        "data": data_report,
    }
