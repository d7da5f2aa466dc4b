"""The Trainer subclass (pos_weight BCE), pos_weight itself, and the per-epoch log the design asks for."""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import SequentialSampler
from transformers import Trainer, TrainerCallback
from transformers.trainer_utils import has_length

from ..metrics.multilabel import sigmoid

logger = logging.getLogger(__name__)


def length_order(dataset) -> np.ndarray:
    """Row indices of a tokenised dataset from shortest to longest: batches taken in this order pad
    little (e5-small's predictions of UnSmile's validation and test rows after training: about 2.5
    minutes in row order, under one in this order, on 2 cores)."""
    lengths = (
        dataset["length"] if "length" in dataset.column_names else [len(i) for i in dataset["input_ids"]]
    )
    return np.argsort(lengths, kind="stable")


def compute_pos_weight(labels: np.ndarray, max_weight: float = 10.0) -> np.ndarray:
    """Per label: number of negatives / number of positives, clamped at `max_weight`.

    A label with no positive example gets `max_weight` (the ratio is undefined).
    """
    positives = (np.asarray(labels) >= 0.5).sum(axis=0).astype(np.float64)
    negatives = len(labels) - positives
    ratio = np.divide(negatives, positives, out=np.full_like(positives, max_weight), where=positives > 0)
    return np.minimum(ratio, max_weight).astype(np.float32)


def check_identical_across_ranks(values: np.ndarray, name: str, device: torch.device | str = "cpu") -> None:
    """Under data parallelism, fail if `values` differ between processes (e.g. pos_weight)."""
    import torch.distributed as dist

    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return
    local = torch.as_tensor(np.asarray(values, dtype=np.float64), device=device)
    gathered = [torch.empty_like(local) for _ in range(dist.get_world_size())]
    dist.all_gather(gathered, local)
    for rank, other in enumerate(gathered):
        if not torch.equal(other, gathered[0]):
            raise RuntimeError(f"{name} differs between rank 0 and rank {rank}: the ranks see different data")
    logger.info("%s identical on all %d ranks", name, len(gathered))


class MultiLabelTrainer(Trainer):
    """A Trainer whose loss is `BCEWithLogitsLoss(pos_weight=...)` over all labels."""

    # The loss below is a per-batch mean, not normalised by `num_items_in_batch`: the Trainer must
    # divide it by the gradient accumulation steps (otherwise GA=2 doubles the loss).
    loss_is_scaled_for_ga = False

    def __init__(self, *args, pos_weight: Sequence[float] | np.ndarray | None = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        # Our compute_loss ignores num_items_in_batch; do not make the Trainer count label tokens.
        self.model_accepts_loss_kwargs = False
        self.pos_weight = (
            None if pos_weight is None else torch.as_tensor(np.asarray(pos_weight), dtype=torch.float32)
        )

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        labels = inputs["labels"]
        outputs = model(**{k: v for k, v in inputs.items() if k != "labels"})
        logits = outputs["logits"] if isinstance(outputs, dict) else outputs[0]
        pos_weight = None if self.pos_weight is None else self.pos_weight.to(logits.device)
        # Loss in fp32 even under autocast: BCE on fp16 logits loses precision for rare labels.
        loss = F.binary_cross_entropy_with_logits(logits.float(), labels.float(), pos_weight=pos_weight)
        return (loss, outputs) if return_outputs else loss

    def _get_train_sampler(self, train_dataset=None):
        # The base class drops columns the model does not take (our precomputed `length`) before it
        # builds the sampler, and group_by_length then re-reads every row to measure it. Same rows,
        # same order: hand it the full dataset so it reads the column.
        return super()._get_train_sampler(
            self.train_dataset if self.train_dataset is not None else train_dataset
        )

    def _get_eval_sampler(self, eval_dataset):
        # The base class puts a LengthGroupedSampler on evaluation too when training groups by length,
        # which returns predictions in a shuffled order. Saved probabilities must follow the rows.
        if eval_dataset is None or not has_length(eval_dataset):
            return None
        if self.args.world_size <= 1:
            return SequentialSampler(eval_dataset)
        return None  # accelerate shards in order; gather_for_metrics drops the padding duplicates

    def predict_probabilities(self, dataset) -> tuple[np.ndarray, np.ndarray | None]:
        """Sigmoid probabilities and labels for `dataset`, one row per example, in dataset order (run
        in length order, then put back)."""
        order = length_order(dataset)
        output = self.predict(dataset.select(order), metric_key_prefix="predict")
        logits = output.predictions[0] if isinstance(output.predictions, tuple) else output.predictions
        if len(logits) != len(dataset):
            raise RuntimeError(f"got {len(logits)} predictions for {len(dataset)} rows")
        probs = np.empty_like(logits, dtype=np.float32)
        probs[order] = sigmoid(logits)
        if output.label_ids is None:  # a dataset without labels
            return probs, None
        labels = np.empty(np.shape(output.label_ids), dtype=np.float32)
        labels[order] = output.label_ids
        return probs, labels


class EpochSummaryCallback(TrainerCallback):
    """Logs one block per epoch in the design's wording, plus the early-stopping line."""

    def __init__(self, metric: str = "f1_macro") -> None:
        self.metric = metric if metric.startswith("eval_") else f"eval_{metric}"
        self.best: float | None = None
        self.train_loss: float | None = None

    def on_train_begin(self, args, state, control, **kwargs):
        self.best = state.best_metric  # set when resuming from a checkpoint

    def on_log(self, args, state, control, logs=None, **kwargs):
        if logs and "loss" in logs:
            self.train_loss = float(logs["loss"])

    def on_evaluate(self, args, state, control, metrics=None, **kwargs):
        if not state.is_world_process_zero or not metrics or self.metric not in metrics:
            return
        epoch = int(round(state.epoch or 0))
        total = math.ceil(args.num_train_epochs) if args.max_steps <= 0 else "?"
        score = float(metrics[self.metric])
        logger.info("Epoch %d/%s", epoch, total)
        if self.train_loss is not None:
            logger.info("Train Loss: %.4f", self.train_loss)
        logger.info("Val Loss: %.4f", metrics.get("eval_loss", float("nan")))
        logger.info("Val F1-Macro: %.4f", score)
        if self.best is None or score > self.best:
            self.best = score
            logger.info("Best model updated! F1: %.4f", score)

    def on_train_end(self, args, state, control, **kwargs):
        # Here, not in on_evaluate: a resumed run puts the restored EarlyStoppingCallback after this one.
        if state.is_world_process_zero and state.global_step < state.max_steps:
            logger.info(
                "Early stopping at epoch %d: val %s did not improve by the threshold for the patience window. "
                "Best F1: %.4f",
                int(round(state.epoch or 0)),
                self.metric.removeprefix("eval_"),
                self.best if self.best is not None else float("nan"),
            )


class NonFiniteLossCallback(TrainerCallback):
    """Stops with a clear error when a logged training loss is NaN or infinite.

    It reads the loss the Trainer already logs, so it costs no extra device sync per step. The last
    saved checkpoint stays as it is; fix the cause and rerun to resume from it.
    """

    def on_log(self, args, state, control, logs=None, **kwargs):
        if logs and "loss" in logs and not math.isfinite(float(logs["loss"])):
            raise FloatingPointError(
                f"training loss became {logs['loss']} by step {state.global_step} (epoch {state.epoch:.2f}); "
                "the last good checkpoint in the output directory is kept. Try a lower learning rate, "
                "--precision no, or check the data."
            )
