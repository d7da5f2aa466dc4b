"""Two CPU processes (gloo, torchrun): same rows, same pos_weight, one prediction per example."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from hf_trainer.metrics.multilabel import multilabel_metrics
from tests.helpers import (
    DEMO_TEST,
    DEMO_TRAIN,
    REPO_ROOT,
    check_saved_predictions_follow_file_rows,
    tiny_train_args,
)

# Two torch processes on a 2-core machine: one thread each, or they oversubscribe badly.
ENV = os.environ | {"OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO_ROOT)}

# Runs recipes/train.py unchanged (as __main__), with two spies that write what each rank did to
# SPY_DIR/rank<RANK>.jsonl: every prepare_splits call (from the raw files or from the prepared
# folder), and the model the training step really gets (the DDP wrapper and its settings).
SPY = """
import json, os, runpy, sys
from pathlib import Path

import hf_trainer.data.preparation as preparation
from hf_trainer.training.trainer import MultiLabelTrainer

RECORD = Path(os.environ["SPY_DIR"]) / f"rank{os.environ['RANK']}.jsonl"


def record(**entry):
    with RECORD.open("a", encoding="utf-8") as f:
        f.write(json.dumps(entry) + "\\n")


prepare = preparation.prepare_splits


def spy_prepare(data_args, seed):
    record(event="prepare_splits", from_prepared_dir=data_args.prepared_data_dir)
    return prepare(data_args, seed)


preparation.prepare_splits = spy_prepare
step = MultiLabelTrainer.training_step


def spy_step(self, model, *args, **kwargs):
    if not getattr(self, "_spied", False):
        self._spied = True
        record(
            event="training_step",
            model=type(model).__name__,
            find_unused_parameters=getattr(model, "find_unused_parameters", None),
        )
    return step(self, model, *args, **kwargs)


MultiLabelTrainer.training_step = spy_step
sys.argv[0] = os.environ["TRAIN_SCRIPT"]
runpy.run_path(sys.argv[0], run_name="__main__")
"""


@pytest.fixture(scope="module")
def ddp_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("ddp")
    out, spy_dir = root / "tiny-bert", root / "spy"
    spy_dir.mkdir()
    (root / "spy_train.py").write_text(SPY, encoding="utf-8")
    cmd = [
        sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", "29531",
        str(root / "spy_train.py"),
        *tiny_train_args("tiny-bert", out, 1, "--max_train_samples", "300", "--max_eval_samples", "101",
                         "--per_device_eval_batch_size", "16"),
    ]  # fmt: skip
    env = ENV | {"SPY_DIR": str(spy_dir), "TRAIN_SCRIPT": str(REPO_ROOT / "recipes" / "train.py")}
    result = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=REPO_ROOT, timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    spied = {
        rank: [json.loads(line) for line in (spy_dir / f"rank{rank}.jsonl").read_text().splitlines()]
        for rank in (0, 1)
    }
    return out, result.stdout + result.stderr, spied


def test_two_processes_share_data_and_pos_weight(ddp_run):
    out, log, spied = ddp_run
    assert "pos_weight identical on all 2 ranks" in log
    # Prepared once: rank 0 alone reads the raw files and writes the prepared folder; then both
    # ranks read that folder (rank 1 waits for rank 0 in main_process_first; the order is not timed here).
    shared = str(out / "prepared_data")
    prepares = {rank: [e for e in events if e["event"] == "prepare_splits"] for rank, events in spied.items()}
    assert [e["from_prepared_dir"] for e in prepares[0]] == [None, shared]
    assert [e["from_prepared_dir"] for e in prepares[1]] == [shared]
    assert (out / "prepared_data" / "data_report.json").is_file()


def test_ddp_runs_without_find_unused_parameters(ddp_run):
    # What the running trainer used: the model handed to the training step is the DDP wrapper, on
    # both ranks, built with find_unused_parameters=False (the recipe's default).
    _, _, spied = ddp_run
    for rank, events in spied.items():
        steps = [e for e in events if e["event"] == "training_step"]
        assert steps == [
            {"event": "training_step", "model": "DistributedDataParallel", "find_unused_parameters": False}
        ], rank
    config = json.loads((ddp_run[0] / "run_config.json").read_text())
    assert config["training"]["ddp_find_unused_parameters"] is False


def test_predictions_have_one_row_per_example_in_order_and_match_one_process(ddp_run):
    out, _, _ = ddp_run
    # The saved ids are rows of the input files; the probabilities are those one process computes on
    # those rows' texts with the saved model (so nothing was dropped, duplicated or reordered).
    test_ids = check_saved_predictions_follow_file_rows(out, "test", DEMO_TEST)
    assert test_ids.tolist() == list(range(101))  # odd N: no padding rows
    val_ids = check_saved_predictions_follow_file_rows(out, "val", DEMO_TRAIN)
    assert len(val_ids) == 101 and np.all(np.diff(val_ids) > 0)
    metrics = json.loads((out / "metrics.json").read_text())
    val = np.load(out / "predictions" / "val.npz")
    recomputed = multilabel_metrics(val["probs"], val["labels"], list(val["label_names"]))
    assert metrics["val"]["f1_macro"] == pytest.approx(recomputed["f1_macro"])
