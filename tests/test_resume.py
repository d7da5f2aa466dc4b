"""A training killed with SIGKILL resumes from its last epoch checkpoint to the same final model."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest
from safetensors.torch import load_file

from tests.helpers import REPO_ROOT, tiny_train_args

ENV = os.environ | {"OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO_ROOT)}


def command(output_dir) -> list[str]:
    return [
        sys.executable, str(REPO_ROOT / "recipes" / "train.py"),
        *tiny_train_args("tiny-bert", output_dir, 4, "--seed", "3", "--early_stopping_patience", "2",
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
