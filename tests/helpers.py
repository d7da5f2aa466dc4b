"""Small builders shared by tests: a tiny model on the demo data, and running a recipe in-process."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

from hf_trainer.data.arguments import DataArguments
from hf_trainer.data.labels import LabelSchema
from hf_trainer.data.loading import tokenize_splits
from hf_trainer.data.preparation import prepare_splits
from hf_trainer.training.modeling import load_model_and_tokenizer

REPO_ROOT = Path(__file__).resolve().parent.parent
DEMO_DATA = REPO_ROOT / "recipes" / "demo_data"
DEMO_TRAIN, DEMO_TEST = DEMO_DATA / "demo_train.tsv", DEMO_DATA / "demo_test.tsv"


def load_recipe(name: str):
    """Import recipes/<name>.py as a module (the recipes are scripts, not a package)."""
    spec = importlib.util.spec_from_file_location(f"recipe_{name}", REPO_ROOT / "recipes" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses in the recipe look their module up there
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
    model, tokenizer, _ = load_model_and_tokenizer(
        schema=LabelSchema(), model=preset, train_texts=splits["train"]["text"], tiny_vocab_size=2000
    )
    return model, tokenizer, splits, tokenize_splits(splits, tokenizer, 128)


def tiny_train_args(preset: str, output_dir, epochs: int, *extra: str) -> list[str]:
    """recipes/train.py arguments for a tiny preset on the demo sample."""
    return [
        "recipes/configs/tiny.yaml", "--model", preset, "--train_file", str(DEMO_TRAIN),
        "--test_file", str(DEMO_TEST),
        "--output_dir", str(output_dir), "--epochs", str(epochs), "--disable_tqdm", "true", *extra,
    ]  # fmt: skip


def check_saved_predictions_follow_file_rows(output_dir, split: str, tsv, atol: float = 1e-5):
    """`predictions/<split>.npz` of a trained folder against the rows of the input file `tsv`.

    Its `ids` must be distinct 0-based data-row indices of `tsv`, its labels that file's labels for
    those rows, and its probabilities the saved model's on those rows' texts (every row). Returns the ids.
    """
    import numpy as np

    from hf_trainer import Ensemble
    from hf_trainer.data.loading import read_labelled_tsv
    from hf_trainer.training.predictions import predictions_path

    saved = np.load(predictions_path(output_dir, split))
    rows = read_labelled_tsv(tsv, LabelSchema())
    ids = saved["ids"]
    assert ids.dtype == np.int64 and len(ids) == len(saved["probs"]) == len(saved["labels"])
    assert len(set(ids.tolist())) == len(ids) and 0 <= ids.min() and ids.max() < len(rows.texts)
    assert np.array_equal(saved["labels"], rows.labels[ids]), (
        f"{split}: labels are not those of the file rows"
    )
    probs = Ensemble.from_pretrained(str(output_dir), device="cpu").predict_proba(
        [rows.texts[i] for i in ids]
    )
    assert np.allclose(probs, saved["probs"], atol=atol), f"{split}: probabilities are not those of the rows"
    return ids


# The rows of the shared pipeline's members, for a char n-gram member beside them (conftest.py::mixed).
CHAR_NGRAM_DATA = ["--train_file", str(DEMO_TRAIN), "--test_file", str(DEMO_TEST), "--max_train_samples", "600",
                   "--max_eval_samples", "150"]  # fmt: skip

# Members of the shared trained pipeline (tests/conftest.py::pipeline_dir); vocab sizes differ.
PIPELINE_MEMBERS = {"tiny-electra": "1500", "tiny-bert": "2000", "tiny-roberta": "3000"}


def train_tiny_pipeline(root: Path) -> Path:
    """Three tiny members (2 epochs, 600 train rows) -> ensemble -> thresholds -> one test evaluation."""
    train = load_recipe("train").main
    for preset, vocab in PIPELINE_MEMBERS.items():
        train(
            tiny_train_args(preset, root / preset, 2, "--max_train_samples", "600", "--max_eval_samples", "150",
                            "--tiny_vocab_size", vocab)
        )  # fmt: skip
    ensemble_dir = root / "ensemble"
    members = [str(root / p) for p in PIPELINE_MEMBERS]
    load_recipe("ensemble").main(["--members", *members, "--output_dir", str(ensemble_dir)])
    load_recipe("thresholds").main(["--ensemble_dir", str(ensemble_dir)])
    load_recipe("evaluate_test").main(["--ensemble_dir", str(ensemble_dir)])
    return root


class FakeHubApi:
    """A local stand-in for huggingface_hub.HfApi that records what would be sent."""

    def __init__(self, fail: bool = False):
        self.fail, self.calls, self.uploaded = fail, [], {}

    def whoami(self, token=None):
        if self.fail:
            raise ConnectionError(f"cannot reach the Hub with {token}")
        return {"name": "tester"}

    def create_repo(self, repo_id, private=False, exist_ok=False):
        self.calls.append(("create_repo", repo_id, private))

    def upload_folder(self, repo_id, folder_path, commit_message, allow_patterns=None, ignore_patterns=None):
        from huggingface_hub.utils import filter_repo_objects

        self.calls.append(("upload_folder", repo_id))
        paths = [
            os.path.relpath(os.path.join(root, name), folder_path)
            for root, _, files in os.walk(folder_path)
            for name in files
        ]
        for rel in filter_repo_objects(paths, allow_patterns=allow_patterns, ignore_patterns=ignore_patterns):
            self.uploaded[rel] = open(os.path.join(folder_path, rel), "rb").read()


# run_all.sh in a subprocess: the threads a worker may use (one under pytest-xdist, see conftest.py).
ENV = os.environ | {"OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "2")}
# The demo as run_all.sh runs it, with 2 epochs per tiny model instead of 5: what these tests check
# (stages, artefacts, reruns, resuming, publishing) does not depend on how long the tiny models train.
DEMO = ("--demo", "--epochs", "2")


def run_all(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    result = subprocess.run(
        ["bash", str(REPO_ROOT / "run_all.sh"), *args], capture_output=True, text=True, env=ENV, timeout=900
    )
    if check and result.returncode != 0:
        raise AssertionError(result.stdout[-4000:] + result.stderr[-4000:])
    return result
