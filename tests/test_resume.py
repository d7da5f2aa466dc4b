"""A training killed with SIGKILL resumes from its last epoch checkpoint to the same final model, alone
and inside run_all.sh."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest
from safetensors.torch import load_file

from tests.helpers import DEMO, REPO_ROOT, run_all, tiny_train_args
from tests.helpers import ENV as PIPELINE_ENV

ENV = os.environ | {"OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO_ROOT)}


def command(output_dir) -> list[str]:
    return [
        sys.executable, str(REPO_ROOT / "recipes" / "train.py"),
        *tiny_train_args("tiny-bert", output_dir, 2, "--seed", "3", "--early_stopping_patience", "2",
                         "--save_total_limit", "10", "--dataloader_num_workers", "0"),
    ]  # fmt: skip


def test_sigkill_then_rerun_gives_the_uninterrupted_result(tmp_path):
    reference = tmp_path / "reference"
    subprocess.run(command(reference), check=True, capture_output=True, env=ENV, cwd=REPO_ROOT, timeout=600)

    killed = tmp_path / "killed"
    process = subprocess.Popen(
        command(killed), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=ENV, cwd=REPO_ROOT
    )
    deadline = time.time() + 300
    first = None
    while time.time() < deadline and process.poll() is None:
        done = sorted(killed.glob("checkpoint-*/trainer_state.json"))
        if done:
            first = done[0].parent
            time.sleep(0.3)  # let the checkpoint's last file land, then kill mid-epoch 2
            break
        time.sleep(0.02)
    if process.poll() is not None:
        pytest.fail("training ended before it could be killed")
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    assert first is not None and not (killed / "metrics.json").exists()

    rerun = subprocess.run(
        command(killed), check=True, capture_output=True, text=True, env=ENV, cwd=REPO_ROOT, timeout=600
    )
    assert "Resuming from" in rerun.stdout and first.name in rerun.stdout
    a = load_file(reference / "model.safetensors")
    b = load_file(killed / "model.safetensors")
    assert a.keys() == b.keys()
    assert all((a[k] - b[k]).abs().max().item() < 1e-6 for k in a)


def test_resume_keeps_the_early_stopping_count(tmp_path):
    """Resumed after a non-improving epoch, a run stops at the same epoch as one never interrupted.

    lr 0 keeps val F1 flat: epoch 1 sets the best, epochs 2 and 3 do not improve, and patience 2
    stops the run after epoch 3 of 10. The run "killed" right after epoch 2's checkpoint is that
    checkpoint alone in a fresh output folder (a SIGKILL after the checkpoint leaves exactly it: the
    runs are deterministic), resumed by rerunning the same command.
    """
    import json
    import shutil

    from tests.helpers import load_recipe

    def train(output_dir):
        args = tiny_train_args(
            "tiny-bert", output_dir, 10, "--learning_rate", "0", "--early_stopping_patience", "2",
            "--max_train_samples", "48", "--max_eval_samples", "32", "--tiny_vocab_size", "500",
            "--save_total_limit", "10", "--seed", "3",
        )  # fmt: skip
        return load_recipe("train").main(args)

    def evaluated_epochs(output_dir):
        history = json.loads((output_dir / "trainer_state.json").read_text())["log_history"]
        return [e["epoch"] for e in history if "eval_f1_macro" in e]

    reference = tmp_path / "reference"
    uninterrupted = train(reference)
    assert uninterrupted["early_stopped"] and uninterrupted["epochs_trained"] == 3
    assert evaluated_epochs(reference) == [1.0, 2.0, 3.0]

    states = {
        json.loads((c / "trainer_state.json").read_text())["epoch"]: c for c in reference.glob("checkpoint-*")
    }
    after_epoch_2 = states[2.0]
    saved = json.loads((after_epoch_2 / "trainer_state.json").read_text())["stateful_callbacks"]
    assert saved["EarlyStoppingCallback"]["attributes"]["early_stopping_patience_counter"] == 1

    killed = tmp_path / "killed"
    shutil.copytree(after_epoch_2, killed / after_epoch_2.name)
    resumed = train(killed)
    epochs = evaluated_epochs(killed)
    assert epochs[:2] == [1.0, 2.0]  # the history up to the checkpoint came back with it
    assert resumed["epochs_trained"] == uninterrupted["epochs_trained"] and resumed["early_stopped"], (
        f"the resumed run evaluated epochs {epochs} and stopped after epoch {resumed['epochs_trained']}, the "
        f"uninterrupted one after epoch {uninterrupted['epochs_trained']}: resuming reset the early-stopping "
        "count (1 non-improving epoch in the checkpoint's trainer_state.json) to 0"
    )


def test_killed_pipeline_resumes_training_from_its_checkpoint(tmp_path):
    out = tmp_path / "out"
    args = [
        "bash",
        str(REPO_ROOT / "run_all.sh"),
        *DEMO,
        "--models",
        "tiny-bert",
        "--output_dir",
        str(out),
        "--skip_preflight",  # not what this test is about; saves a process start per run
        "--stop_after",  # nor are the stages after training
        "train",
    ]
    process = subprocess.Popen(
        args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=PIPELINE_ENV, start_new_session=True
    )
    deadline = time.time() + 300
    while time.time() < deadline and process.poll() is None:
        if list((out / "tiny-bert").glob("checkpoint-*/trainer_state.json")):
            time.sleep(0.3)
            break
        time.sleep(0.05)
    assert process.poll() is None, "the pipeline ended before it could be killed"
    os.killpg(process.pid, signal.SIGKILL)  # the whole process group: run_all, accelerate, train.py
    process.wait()
    assert not (out / ".pipeline" / "train_tiny-bert.done.json").exists()

    again = run_all(*args[2:]).stdout
    assert not (out / "logs" / "preflight_tiny-bert.log").exists()  # --skip_preflight skipped it
    assert "Stage data: unchanged since its last run, skipped" in again
    assert "Resuming from" in (out / "logs" / "train_tiny-bert.log").read_text(encoding="utf-8")
    import json

    summary = json.loads((out / "summary.json").read_text())
    assert summary["models"]["tiny-bert"]["epochs_trained"] == 2
    # --stop_after train: no stage after the training ran, and the summary says where the run stopped.
    assert summary["stopped_after"] == "train" and summary["test_f1_macro_tuned"] is None
    assert not (out / "ensemble").exists() and "stopped after train (--stop_after)" in again
