"""Mixed precision off the GPU: --precision bf16 is real autocast on a CPU."""

from __future__ import annotations

import json
import math

import numpy as np

from hf_trainer.training.arguments import parse_train_args
from tests.helpers import load_recipe, tiny_train_args


def test_bf16_on_cpu_trains_with_a_finite_loss_and_saves_float32_predictions(tmp_path):
    args = tiny_train_args("tiny-bert", tmp_path / "out", 1, "--max_train_samples", "64", "--max_eval_samples",
                           "32", "--precision", "bf16")  # fmt: skip
    _, _, training_args = parse_train_args(args)
    assert (
        training_args.bf16
        and not training_args.fp16
        and "bf16 autocast on CPU" in training_args.precision_note
    )
    metrics = load_recipe("train").main(args)
    assert metrics["precision"].startswith("bf16 autocast on CPU")
    history = json.loads((tmp_path / "out" / "trainer_state.json").read_text())["log_history"]
    losses = [entry["loss"] for entry in history if "loss" in entry]
    assert losses and all(math.isfinite(loss) for loss in losses)
    for split in ("val", "test"):
        probs = np.load(tmp_path / "out" / "predictions" / f"{split}.npz")["probs"]
        assert probs.dtype == np.float32 and np.isfinite(probs).all()
