"""Preflight: the checks that make a long run fail in its first minutes, not in its tenth hour.

`recipes/train.py ... --preflight_only` runs them for one model with the run's own arguments, and
`run_all.sh` runs them for every model of the run before the first training starts. For one model:
the model and tokenizer load (done by the caller), the train texts tokenise without an `[UNK]`
flood, the share of comments cut at `--max_length` is reported, one forward and backward pass on a
real batch (the run's batch size and precision) gives a finite loss and non-zero gradients, the disk
holds the run's checkpoints, and a few timed steps give seconds per epoch and hours at the epoch cap.
"""

from __future__ import annotations

import logging
import math
import os
import shutil
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from ..utils.errors import UserError

logger = logging.getLogger(__name__)

MAX_UNK_SHARE = 0.01
TIMED_STEPS = 3


class PreflightError(UserError):
    """One or more preflight checks failed; each line names the model, the problem and the fix."""


def token_statistics(tokenizer, texts: Sequence[str], max_length: int) -> dict:
    """Share of `[UNK]` among the text tokens, and of comments longer than `max_length` tokens."""
    special = set(tokenizer.all_special_ids)
    unk, tokens, truncated = 0, 0, 0
    for start in range(0, len(texts), 1024):
        for ids in tokenizer(list(texts[start : start + 1024]), truncation=False)["input_ids"]:
            body = [i for i in ids if i not in special or i == tokenizer.unk_token_id]
            tokens += len(body)
            unk += sum(1 for i in body if i == tokenizer.unk_token_id)
            truncated += len(ids) > max_length
    return {
        "unk_share": unk / max(tokens, 1),
        "truncated_share": truncated / max(len(texts), 1),
        "mean_tokens": tokens / max(len(texts), 1),
    }


def checkpoint_bytes(model: torch.nn.Module) -> int:
    """Disk for one epoch checkpoint: fp32 weights plus AdamW's two moments."""
    return 3 * 4 * model.num_parameters()


def kept_checkpoints(args) -> int:
    """Checkpoints on disk at once: `save_total_limit` plus the final model; without a limit every
    epoch's checkpoint stays (the epoch cap)."""
    if args.save_total_limit:
        return args.save_total_limit + 1
    return math.ceil(args.num_train_epochs) + 1


def _gradient_norm(model: torch.nn.Module, scale: float) -> float:
    norms = [p.grad.detach().float().norm() for p in model.parameters() if p.grad is not None]
    return float(torch.linalg.vector_norm(torch.stack(norms)) / scale) if norms else 0.0


def forward_backward(trainer, batch: dict) -> tuple[float, float]:
    """One training forward and backward pass under the run's precision: (loss, gradient norm)."""
    model = trainer.model
    model.train()
    batch = trainer._prepare_inputs(batch)
    with trainer.accelerator.autocast():
        loss = trainer.compute_loss(model, batch)
    trainer.accelerator.backward(loss)
    scaler = getattr(trainer.accelerator, "scaler", None)
    scale = float(scaler.get_scale()) if scaler is not None and scaler.is_enabled() else 1.0
    norm = _gradient_norm(model, scale)
    model.zero_grad(set_to_none=True)
    return float(loss.detach()), norm


def _synchronize() -> None:
    if torch.cuda.is_available():
        torch.cuda.synchronize()


def check_tokens(tokenizer, train_texts: Sequence[str], name: str, max_length: int) -> tuple[dict, list[str]]:
    """The [UNK] share and truncation of the train texts, and the problem when [UNK] floods them."""
    stats = token_statistics(tokenizer, train_texts, max_length)
    problems = []
    if stats["unk_share"] > MAX_UNK_SHARE:
        problems.append(
            f"{name}: {stats['unk_share']:.1%} of the train tokens are {tokenizer.unk_token} (limit "
            f"{MAX_UNK_SHARE:.0%}): the tokenizer does not read these texts. Check --tokenizer_name, and "
            "that the tokenizer's lower-casing/accent stripping does not decompose Hangul."
        )
    logger.info(
        "Preflight %s: %.2f%% [UNK] tokens, %.1f%% of comments longer than --max_length %d (mean %.1f tokens)",
        name,
        100 * stats["unk_share"],
        100 * stats["truncated_share"],
        max_length,
        stats["mean_tokens"],
    )
    return stats, problems


def check_training_step(trainer, dataloader, name: str) -> tuple[float, float, float, list[str]]:
    """Forward and backward passes on real batches: (loss, gradient norm, median seconds per step,
    problems: out of memory, a non-finite loss, zero gradients)."""
    args = trainer.args
    batches = iter(dataloader)
    loss, grad_norm, step_seconds = float("nan"), float("nan"), float("nan")
    problems: list[str] = []
    stepped = False
    try:
        # The first batch of a length-grouped epoch holds the longest comments: the memory worst case.
        loss, grad_norm = forward_backward(trainer, next(batches))
        stepped = True
        timings = []
        for _ in range(TIMED_STEPS):
            batch = next(batches, None)
            if batch is None:
                break
            _synchronize()
            tick = time.perf_counter()
            forward_backward(trainer, batch)
            _synchronize()
            timings.append(time.perf_counter() - tick)
        step_seconds = float(np.median(timings)) if timings else float("nan")
    except torch.cuda.OutOfMemoryError:
        problems.append(
            f"{name}: out of GPU memory at --per_device_train_batch_size {args.per_device_train_batch_size}. "
            "Halve it and double --gradient_accumulation_steps (same effective batch), or add "
            "--gradient_checkpointing true."
        )
    if stepped and not math.isfinite(loss):
        problems.append(
            f"{name}: the loss of a real batch is {loss}. Try --precision no (fp32); check the labels."
        )
    elif math.isfinite(loss) and not (math.isfinite(grad_norm) and grad_norm > 0):
        problems.append(
            f"{name}: the gradients of a real batch are {'zero' if grad_norm == 0 else grad_norm}: nothing "
            "would train. Check that the model's parameters are trainable and --precision."
        )
    return loss, grad_norm, step_seconds, problems


def check_disk(args, model, name: str, run_models: int) -> tuple[int, int, list[str]]:
    """(bytes the run's checkpoints need, bytes free, problems) for the output folder."""
    folder = Path(args.output_dir)
    existing = next((p for p in [folder, *folder.parents] if p.exists()), Path("."))
    checkpoints = kept_checkpoints(args)
    one_checkpoint = checkpoint_bytes(model)
    needed = one_checkpoint * checkpoints * max(run_models, 1)
    free = shutil.disk_usage(existing).free
    problems = []
    if not os.access(existing, os.W_OK):
        problems.append(f"{name}: {existing} is not writable. Choose another --output_dir.")
    if free < needed:
        problems.append(
            f"{name}: the run needs about {needed / 1e9:.1f} GB for checkpoints ({checkpoints} x "
            f"{one_checkpoint / 1e9:.2f} GB x {run_models} model(s)), {existing} has {free / 1e9:.1f} GB free. "
            "Free space, choose another --output_dir, or lower --save_total_limit."
        )
    return needed, free, problems


def run_preflight(
    trainer,
    tokenizer,
    train_texts: Sequence[str],
    *,
    name: str,
    max_length: int,
    run_models: int = 1,
) -> dict:
    """Run the checks for one model; raise `PreflightError` listing every problem found."""
    args = trainer.args
    start = time.perf_counter()
    stats, token_problems = check_tokens(tokenizer, train_texts, name, max_length)
    dataloader = trainer.get_train_dataloader()
    loss, grad_norm, step_seconds, step_problems = check_training_step(trainer, dataloader, name)
    needed, free, disk_problems = check_disk(args, trainer.model, name, run_models)
    problems = token_problems + step_problems + disk_problems
    epoch_seconds = step_seconds * len(dataloader)  # forward+backward per batch; optimizer steps are cheap
    epochs = args.num_train_epochs  # the cap; early stopping usually ends sooner, --max_steps may too
    result = {
        "model": name,
        **{k: round(v, 6) for k, v in stats.items()},
        "loss": loss,
        "grad_norm": grad_norm,
        "precision": "bf16" if args.bf16 else "fp16" if args.fp16 else "fp32",
        "batch_size": args.per_device_train_batch_size,
        "step_seconds": step_seconds,
        "seconds_per_epoch": epoch_seconds,
        "hours_at_epoch_cap": epoch_seconds * epochs / 3600,
        "disk_needed_gb": round(needed / 1e9, 2),
        "disk_free_gb": round(free / 1e9, 2),
        "preflight_seconds": round(time.perf_counter() - start, 2),
        "problems": problems,
    }
    logger.info(
        "Preflight %s: loss %.4f, gradient norm %.3g (%s, batch %d); %.3f s/step -> %.0f s/epoch, "
        "%.1f h at the %g-epoch cap (training steps only; evaluation adds more); disk %.1f GB needed, %.1f GB free",
        name, loss, grad_norm, result["precision"], args.per_device_train_batch_size, step_seconds,
        epoch_seconds, result["hours_at_epoch_cap"], epochs, needed / 1e9, free / 1e9,
    )  # fmt: skip
    if problems:
        for line in problems:
            logger.error("Preflight failed: %s", line)
        raise PreflightError(" | ".join(problems))
    logger.info("Preflight %s: passed in %.1fs", name, result["preflight_seconds"])
    return result
