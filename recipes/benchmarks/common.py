"""What the benchmark items share: the data, the machine, and comments repeated to a given count."""

from __future__ import annotations

import os
import platform
from pathlib import Path

import torch

from hf_trainer.data.arguments import DataArguments
from hf_trainer.data.labels import LabelSchema
from hf_trainer.training.modeling import load_model_and_tokenizer

DEMO = Path(__file__).resolve().parent.parent / "demo_data"


# The benchmark reads the data as written: no canonical form, no spelling-game copies (item 7 applies
# them per configuration; the other items time the pipeline's parts on the same rows as before them).
AS_WRITTEN = {"canonical_form": "none", "spelling_copies": 0.0}


def data_args(data_dir: str | None) -> DataArguments:
    if data_dir:
        return DataArguments(data_dir=data_dir, **AS_WRITTEN)
    return DataArguments(
        train_file=str(DEMO / "demo_train.tsv"), test_file=str(DEMO / "demo_test.tsv"), **AS_WRITTEN
    )


def machine() -> dict:
    info = {
        "platform": platform.platform(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "memory_gib": memory_gib(),
    }
    if torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name(0)
        info["cuda"] = torch.version.cuda
    return info


def memory_gib() -> float | None:
    """Total memory of the machine (Linux), GiB."""
    try:
        with open("/proc/meminfo", encoding="ascii") as handle:
            kib = next(int(line.split()[1]) for line in handle if line.startswith("MemTotal:"))
    except (OSError, StopIteration, ValueError):
        return None
    return round(kib / 2**20, 1)


def repeated(texts, count: int) -> list[str]:
    """`count` comments: `texts` repeated as often as needed."""
    texts = list(texts)
    return (texts * (count // len(texts) + 1))[:count]


def tiny_builder(preset: str, splits):
    def build():
        return load_model_and_tokenizer(
            schema=LabelSchema(), model=preset, train_texts=splits["train"]["text"]
        )

    return build
