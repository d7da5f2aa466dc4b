"""Item 4: inference comments/s of a three-member tiny ensemble; the char n-gram member's whole fit
(its C grid) on the original train rows and its inference comments/s."""

from __future__ import annotations

import time

import numpy as np

from hf_trainer.data.aeda import original_rows
from hf_trainer.data.labels import LabelSchema
from hf_trainer.members.char_ngram import C_GRID, fit_char_ngram
from hf_trainer.members.transformer import TransformerMember
from hf_trainer.selection.ensemble import EnsembleSpec
from hf_trainer.serving.inference import Ensemble
from hf_trainer.training.modeling import load_model_and_tokenizer

from .common import repeated


def run(splits, args) -> dict:
    ensemble = tiny_ensemble(splits, args.comments)
    char_ngram = char_ngram_timing(splits, args.comments)
    return {
        "inference": ensemble,
        "inference_comments_per_s": ensemble["comments_per_s"],
        "char_ngram": char_ngram,
        "char_ngram_train_s": char_ngram["train_s"],
        "char_ngram_inference_per_s": char_ngram["inference_comments_per_s"],
    }


def rows(result: dict) -> list[tuple[str, str]]:
    return [
        ("inference, 3-member tiny ensemble", f"{result['inference_comments_per_s']:.0f} comments/s"),
        (
            f"char-ngram member: fit ({len(C_GRID)} values of C) / inference",
            f"{result['char_ngram_train_s']:.1f} s on {result['char_ngram']['train_rows']} rows / "
            f"{result['char_ngram_inference_per_s']:.0f} comments/s",
        ),
    ]


def tiny_ensemble(splits, comments: int) -> dict:
    schema = LabelSchema()
    members = []
    for preset in ("tiny-electra", "tiny-bert", "tiny-roberta"):
        model, tokenizer, _ = load_model_and_tokenizer(
            schema=schema, model=preset, train_texts=splits["train"]["text"]
        )
        members.append(TransformerMember(model, tokenizer))
    spec = EnsembleSpec(
        labels=list(schema.names),
        members=[{"name": f"m{i}", "path": ".", "weight": w} for i, w in enumerate((0.4, 0.3, 0.3))],
        objective="none",
        objective_value=0.0,
        thresholds=[0.5] * schema.num_labels,
    )
    ensemble = Ensemble(members, spec)
    texts = repeated(splits["test"]["text"], comments)
    ensemble.predict(texts[:256])  # warm-up
    start = time.perf_counter()
    ensemble.predict(texts, batch_size=64)
    seconds = time.perf_counter() - start
    return {
        "comments": comments,
        "seconds": seconds,
        "comments_per_s": comments / seconds,
        "device": str(members[0].device),
    }


def char_ngram_timing(splits, comments: int) -> dict:
    """The char n-gram member: a whole fit (its C grid) on the original train rows, and inference."""
    train = original_rows(splits["train"])
    start = time.perf_counter()
    model, _ = fit_char_ngram(train["text"], np.asarray(train["labels"]), LabelSchema().names)
    train_s = time.perf_counter() - start
    texts = repeated(splits["test"]["text"], comments)
    start = time.perf_counter()
    model.predict_proba(texts, batch_size=64)
    per_s = comments / (time.perf_counter() - start)
    return {"train_rows": len(train), "train_s": train_s, "c": model.c, "inference_comments_per_s": per_s}
