"""Two CPU processes (gloo, torchrun): same rows, same pos_weight, one prediction per example."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from hf_trainer import Ensemble
from hf_trainer.data import read_labelled_tsv
from hf_trainer.labels import UNSMILE_LABELS, LabelSchema
from hf_trainer.metrics import multilabel_metrics
from tests.helpers import DEMO_TEST, REPO_ROOT, tiny_train_args

# Two torch processes on a 2-core machine: one thread each, or they oversubscribe badly.
ENV = os.environ | {"OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO_ROOT)}


@pytest.fixture(scope="module")
def ddp_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("ddp") / "tiny-bert"
    cmd = [
        sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", "29531",
        str(REPO_ROOT / "recipes" / "train.py"),
        *tiny_train_args("tiny-bert", out, 1, "--max_train_samples", "300", "--max_eval_samples", "101",
                         "--per_device_eval_batch_size", "16"),
    ]  # fmt: skip
    result = subprocess.run(cmd, capture_output=True, text=True, env=ENV, cwd=REPO_ROOT, timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return out, result.stdout + result.stderr


def test_two_processes_share_data_and_pos_weight(ddp_run):
    out, log = ddp_run
    assert "pos_weight identical on all 2 ranks" in log
    assert (out / "prepared_data" / "data_report.json").is_file()  # prepared once, read by both ranks
    config = json.loads((out / "run_config.json").read_text())
    assert config["training"]["ddp_find_unused_parameters"] is False


def test_predictions_have_one_row_per_example_in_order_and_match_one_process(ddp_run):
    out, _ = ddp_run
    test = np.load(out / "predictions" / "test.npz")
    assert test["probs"].shape == (101, 10) and test["ids"].tolist() == list(
        range(101)
    )  # odd N: no padding rows
    rows = read_labelled_tsv(DEMO_TEST, LabelSchema())
    assert np.array_equal(test["labels"], rows.labels[:101])
    single = Ensemble.from_pretrained(str(out), device="cpu").predict_proba(rows.texts[:101])
    assert np.allclose(single, test["probs"], atol=1e-5)
    metrics = json.loads((out / "metrics.json").read_text())
    val = np.load(out / "predictions" / "val.npz")
    assert val["probs"].shape[0] == 101
    recomputed = multilabel_metrics(val["probs"], val["labels"], UNSMILE_LABELS)
    assert metrics["val"]["f1_macro"] == pytest.approx(recomputed["f1_macro"])
