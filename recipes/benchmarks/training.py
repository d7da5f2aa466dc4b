"""Item 1: training throughput of one tiny model, the design's fixed padding to 128 against per-batch
padding with length grouping; item 5 (--gpu): the same at base size on the GPU, fp16 and bf16."""

from __future__ import annotations

import logging
import tempfile
import time

import numpy as np
import torch
from transformers import DataCollatorWithPadding, set_seed

from hf_trainer.data.labels import LabelSchema
from hf_trainer.data.loading import tokenize_splits
from hf_trainer.training.arguments import RecipeTrainingArguments
from hf_trainer.training.modeling import build_wordpiece_tokenizer, set_label_config
from hf_trainer.training.trainer import MultiLabelTrainer, compute_pos_weight
from hf_trainer.utils.errors import InvalidArgument

from .common import tiny_builder

logger = logging.getLogger("hf_trainer.benchmark")


def run(splits, args) -> dict:
    """Item 1: samples/s and real tokens/s of tiny-electra, fixed-128 padding against ours."""
    fixed = throughput(splits, tiny_builder("tiny-electra", splits), True, args.steps, {})
    ours = throughput(splits, tiny_builder("tiny-electra", splits), False, args.steps, {})
    return {
        "training_fixed128": fixed,
        "training_ours": ours,
        "padding_speedup": ours["samples_per_s"] / fixed["samples_per_s"],
    }


def rows(result: dict) -> list[tuple[str, str]]:
    fixed, ours = result["training_fixed128"], result["training_ours"]
    return [
        (
            "training, fixed padding to 128",
            f"{fixed['samples_per_s']:.0f} samples/s, {fixed['real_tokens_per_s']:.0f} real tokens/s",
        ),
        (
            "training, per-batch padding + length groups",
            f"{ours['samples_per_s']:.0f} samples/s, {ours['real_tokens_per_s']:.0f} real tokens/s",
        ),
        ("padding speed-up", f"{result['padding_speedup']:.2f}x"),
    ]


def run_gpu(splits, args) -> dict:
    """Item 5: base-size shapes on the GPU and the design's pipeline projected at 80 epochs."""
    if not torch.cuda.is_available():
        raise InvalidArgument("--gpu: no CUDA device here; run the benchmark without --gpu")
    gpu = gpu_items(splits, args.gpu_steps)
    # The design's pipeline: 3 models x 80 epochs (upper bound, before early stopping), ours with fp16.
    hours = {
        kind: 80
        * sum(
            gpu[f"{m}/fp16/{kind}"]["seconds_per_epoch"] * n
            for m, n in (("electra-base", 1), ("roberta-base", 2))
        )
        / 3600
        for kind in ("ours", "fixed128")
    }
    return {
        "gpu": gpu,
        "projected_pipeline_hours_80_epochs_ours": hours["ours"],
        "projected_pipeline_hours_80_epochs_fixed128": hours["fixed128"],
    }


def rows_gpu(result: dict) -> list[tuple[str, str]]:
    out = [
        (f"GPU {key}", f"{value['seconds_per_epoch']:.1f} s/epoch, {value['samples_per_s']:.0f} samples/s")
        for key, value in result["gpu"].items()
    ]
    out.append((
        "projected pipeline at 80 epochs (ours / fixed-128)",
        f"{result['projected_pipeline_hours_80_epochs_ours']:.2f} h / "
        f"{result['projected_pipeline_hours_80_epochs_fixed128']:.2f} h",
    ))  # fmt: skip
    return out


def throughput(splits, build, fixed_padding: bool, steps: int, device_kwargs: dict) -> dict:
    """Train `steps` steps of batch 16 and report samples/s and real (non-pad) tokens/s."""
    set_seed(0)
    model, tokenizer, _ = build()
    tokenized = tokenize_splits(splits, tokenizer, 128)
    train = tokenized["train"]
    collator = (
        DataCollatorWithPadding(tokenizer, padding="max_length", max_length=128)
        if fixed_padding
        else DataCollatorWithPadding(
            tokenizer,
            pad_to_multiple_of=8 if device_kwargs.get("fp16") or device_kwargs.get("bf16") else None,
        )
    )
    with tempfile.TemporaryDirectory() as out:
        args = RecipeTrainingArguments(
            output_dir=out,
            max_steps=steps,
            per_device_train_batch_size=16,
            eval_strategy="no",
            save_strategy="no",
            logging_strategy="no",
            load_best_model_at_end=False,
            warmup_steps=0,
            disable_tqdm=True,
            train_sampling_strategy="random" if fixed_padding else "group_by_length",
            seed=0,
            **device_kwargs,
        )
        trainer = MultiLabelTrainer(
            model=model,
            args=args,
            train_dataset=train,
            processing_class=tokenizer,
            data_collator=collator,
            pos_weight=compute_pos_weight(np.asarray(splits["train"]["labels"])),
        )
        # Warm up (allocations, kernels), then time.
        trainer.args.max_steps = max(3, steps // 10)
        trainer.train()
        trainer.args.max_steps = steps
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        start = time.perf_counter()
        trainer.train()
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        seconds = time.perf_counter() - start
    samples = steps * 16
    mean_tokens = float(np.mean(train["length"]))
    return {
        "seconds": seconds,
        "samples_per_s": samples / seconds,
        "real_tokens_per_s": samples * mean_tokens / seconds,
        "seconds_per_epoch": len(train) / (samples / seconds),
        "train_rows": len(train),
        "mean_tokens": mean_tokens,
    }


def gpu_items(splits, steps: int) -> dict:
    """Base-size shapes (random init) at batch 16 on the GPU, fixed-128 vs ours, fp16 and bf16."""
    from transformers import AutoModelForSequenceClassification, ElectraConfig, RobertaConfig

    schema = LabelSchema()
    tokenizer = build_wordpiece_tokenizer(splits["train"]["text"], vocab_size=32000)
    results = {}
    configs = {
        "electra-base": ElectraConfig(
            vocab_size=len(tokenizer),
            embedding_size=768,
            hidden_size=768,
            num_hidden_layers=12,
            num_attention_heads=12,
            intermediate_size=3072,
        ),
        "roberta-base": RobertaConfig(
            vocab_size=len(tokenizer),
            max_position_embeddings=514,
            pad_token_id=0,
            bos_token_id=tokenizer.cls_token_id,
            eos_token_id=tokenizer.sep_token_id,
        ),
    }
    for name, config in configs.items():
        set_label_config(config, schema)
        config._attn_implementation = "sdpa"

        def build(config=config):
            return AutoModelForSequenceClassification.from_config(config), tokenizer, None

        for precision in ("fp16", "bf16"):
            for fixed in (True, False):
                key = f"{name}/{precision}/{'fixed128' if fixed else 'ours'}"
                results[key] = throughput(splits, build, fixed, steps, {"precision": precision})
                logger.warning("%s: %.1f s/epoch", key, results[key]["seconds_per_epoch"])
    return results
