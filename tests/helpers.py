"""Small builders shared by tests: a tiny model on the demo data, and running a recipe in-process."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from hf_trainer.configs import DataArguments
from hf_trainer.data import tokenize_splits
from hf_trainer.labels import LabelSchema
from hf_trainer.modeling import load_model_and_tokenizer
from hf_trainer.training import prepare_splits

REPO_ROOT = Path(__file__).resolve().parent.parent
DEMO_DATA = REPO_ROOT / "recipes" / "demo_data"
DEMO_TRAIN, DEMO_TEST = DEMO_DATA / "demo_train.tsv", DEMO_DATA / "demo_test.tsv"


def load_recipe(name: str):
    """Import recipes/<name>.py as a module (the recipes are scripts, not a package)."""
    spec = importlib.util.spec_from_file_location(f"recipe_{name}", REPO_ROOT / "recipes" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def tiny_setup(preset: str = "tiny-bert", max_train: int = 256, max_eval: int = 96):
    """Tiny model, tokenizer, raw and tokenised demo splits."""
    data_args = DataArguments(
        train_file=str(DEMO_TRAIN),
        test_file=str(DEMO_TEST),
        max_train_samples=max_train,
        max_eval_samples=max_eval,
    )
    splits, _ = prepare_splits(data_args, seed=0)
    model, tokenizer = load_model_and_tokenizer(
        schema=LabelSchema(), preset=preset, train_texts=splits["train"]["text"], tiny_vocab_size=2000
    )
    return model, tokenizer, splits, tokenize_splits(splits, tokenizer, 128)


def tiny_train_args(preset: str, output_dir, epochs: int, *extra: str) -> list[str]:
    """recipes/train.py arguments for a tiny preset on the demo sample."""
    return [
        "recipes/configs/tiny.yaml", "--model", preset, "--train_file", str(DEMO_TRAIN),
        "--test_file", str(DEMO_TEST),
        "--output_dir", str(output_dir), "--epochs", str(epochs), "--disable_tqdm", "true", *extra,
    ]  # fmt: skip
