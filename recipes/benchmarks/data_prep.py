"""Item 2: data preparation of the whole data set (load, validate, split, AEDA, tokenise), cold and cached."""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path

from hf_trainer.data.arguments import DataArguments
from hf_trainer.data.labels import LabelSchema
from hf_trainer.data.loading import save_prepared_splits, tokenize_splits
from hf_trainer.data.preparation import prepare_splits
from hf_trainer.training.modeling import build_wordpiece_tokenizer


def run(splits, args) -> dict:
    prep = data_prep(args.data_args)
    return {
        "data_prep_cold_s": prep["cold_s"],
        "data_prep_cached_s": prep["cached_s"],
        "data_prep_rows": prep["rows"],
    }


def rows(result: dict) -> list[tuple[str, str]]:
    return [
        ("data preparation, cold", f"{result['data_prep_cold_s']:.2f} s ({result['data_prep_rows']})"),
        ("data preparation, cached", f"{result['data_prep_cached_s']:.2f} s"),
    ]


def data_prep(data_args: DataArguments) -> dict:
    """Cold: read, validate, split, AEDA, save, tokenise. Cached: read the saved splits, tokenise (cache hit)."""
    work = Path(tempfile.mkdtemp(prefix="bench_data_"))
    try:
        start = time.perf_counter()
        splits, report = prepare_splits(data_args, seed=42)
        save_prepared_splits(splits, report, list(LabelSchema().names), work)
        prepared = DataArguments(prepared_data_dir=str(work))
        loaded, _ = prepare_splits(prepared, seed=42)
        tokenizer = build_wordpiece_tokenizer(loaded["train"]["text"])
        tokenize_splits(loaded, tokenizer, 128)
        cold = time.perf_counter() - start
        start = time.perf_counter()
        loaded, _ = prepare_splits(prepared, seed=42)
        tokenize_splits(loaded, tokenizer, 128)
        cached = time.perf_counter() - start
        return {"cold_s": cold, "cached_s": cached, "rows": report["rows"]}
    finally:
        shutil.rmtree(work, ignore_errors=True)
