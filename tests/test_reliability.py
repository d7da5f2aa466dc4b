"""Faults: NaN loss, unwritable output, full disk, a killed writer, a tampered ensemble.json."""

from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys

import pytest
import torch
from safetensors.torch import load_file
from transformers import TrainerCallback

from hf_trainer.serving.inference import Ensemble
from hf_trainer.training.modeling import resolve_weights
from hf_trainer.training.trainer import NonFiniteLossCallback
from hf_trainer.utils import io
from tests.helpers import REPO_ROOT, load_recipe, tiny_setup
from tests.test_trainer import make_trainer


class PoisonWeights(TrainerCallback):
    """Turn the weights into NaN when the second epoch starts."""

    def __init__(self, model):
        self.model = model

    def on_epoch_begin(self, args, state, control, **kwargs):
        if state.epoch and state.epoch >= 1:
            with torch.no_grad():
                for parameter in self.model.parameters():
                    parameter.fill_(float("nan"))


def test_nan_loss_stops_with_the_step_and_keeps_the_last_good_checkpoint(tmp_path):
    tiny = tiny_setup("tiny-bert", max_train=64, max_eval=16)
    trainer = make_trainer(
        tiny,
        tmp_path,
        num_train_epochs=3,
        learning_rate=1e-3,
        save_strategy="epoch",
        load_best_model_at_end=True,
        logging_strategy="epoch",
        save_total_limit=5,
    )
    trainer.add_callback(NonFiniteLossCallback())
    trainer.add_callback(PoisonWeights(trainer.model))
    with pytest.raises(FloatingPointError, match=r"training loss became nan by step \d+ \(epoch 2.00\)"):
        trainer.train()
    checkpoints = sorted(tmp_path.glob("checkpoint-*"))
    assert len(checkpoints) == 1  # epoch 1 kept, the NaN epoch never saved
    assert json.loads((checkpoints[0] / "trainer_state.json").read_text())["epoch"] == 1.0
    weights = load_file(checkpoints[0] / "model.safetensors")
    assert all(torch.isfinite(w).all() for w in weights.values())


def test_unwritable_output_dir_fails_before_any_work(tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    with pytest.raises(io.OutputWriteError, match="is not writable"):
        io.ensure_writable(blocker / "out")
    with pytest.raises(io.OutputWriteError, match="is not writable"):
        load_recipe("train").main(["--model", "tiny-bert", "--output_dir", str(blocker / "out")])


def test_disk_full_is_explained_and_space_is_checked_up_front(tmp_path):
    with pytest.raises(io.OutputWriteError, match="No space left on device.*run the same command again"):
        with io.explain_write_errors(tmp_path):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    with pytest.raises(ValueError):  # other errors pass through untouched
        with io.explain_write_errors(tmp_path):
            raise ValueError("x")
    with pytest.raises(io.OutputWriteError, match="needs about .* GB, only .* GB are free"):
        io.check_free_space(tmp_path, 10**18, "training")


def test_a_killed_writer_leaves_the_old_file_intact(tmp_path):
    target = tmp_path / "ensemble.json"
    io.write_json(target, {"version": "old"})
    code = (
        "import sys, time; sys.path.insert(0, sys.argv[2]); from hf_trainer.utils import io\n"
        "with io.atomic_open(sys.argv[1], 'w') as f:\n"
        '    f.write(\'{"version": "new", "half": \'); f.flush(); print(\'writing\', flush=True); time.sleep(60)\n'
    )
    process = subprocess.Popen(
        [sys.executable, "-c", code, str(target), str(REPO_ROOT)], stdout=subprocess.PIPE, text=True
    )
    assert process.stdout.readline().strip() == "writing"
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    assert json.loads(target.read_text()) == {"version": "old"}
    leftovers = [p.name for p in tmp_path.iterdir() if p.name != "ensemble.json"]
    assert all(
        name.startswith(".ensemble.json.") for name in leftovers
    )  # a temp file at most, never the target


def test_tampered_ensemble_json_is_refused(tmp_path):
    member = tmp_path / "member"
    tiny = tiny_setup("tiny-bert", max_train=32, max_eval=8)
    tiny[0].save_pretrained(member)
    tiny[1].save_pretrained(member)
    good = {
        "labels": list(tiny[0].config.id2label.values()),
        "members": [{"name": "member", "path": "../member", "weight": 1.0}],
        "objective": "x",
        "objective_value": 0.0,
        "thresholds": [0.5] * 10,
    }
    folder = tmp_path / "ens"
    folder.mkdir()
    (folder / "ensemble.json").write_text(json.dumps(good))
    assert Ensemble.from_pretrained(str(folder), device="cpu").predict(["안녕"])[0]["scores"]
    renamed = dict(good, labels=["a"] * 9 + ["b"])
    (folder / "ensemble.json").write_text(json.dumps(renamed))
    with pytest.raises(ValueError, match="duplicate label names|member 'member' predicts labels"):
        Ensemble.from_pretrained(str(folder), device="cpu")
    (folder / "ensemble.json").write_text(json.dumps(dict(good, labels=[f"l{i}" for i in range(10)])))
    with pytest.raises(ValueError, match="member 'member' predicts labels"):
        Ensemble.from_pretrained(str(folder), device="cpu")
    (folder / "ensemble.json").write_text(
        json.dumps(dict(good, members=[{"name": "member", "path": "../member", "weight": 0.5}]))
    )
    with pytest.raises(ValueError, match="sum to 1"):
        Ensemble.from_pretrained(str(folder), device="cpu")


class _RunsCodeWhenUnpickled:
    """A pickle payload like a hostile .bin: unpickling it would create the file `marker`."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_bin_weights_load_as_tensors_only_and_pickled_code_is_refused(tmp_path):
    tiny = tiny_setup("tiny-bert", max_train=32, max_eval=8)
    folder = tmp_path / "member"
    tiny[0].config.save_pretrained(folder)
    tiny[1].save_pretrained(folder)
    torch.save(tiny[0].state_dict(), folder / "pytorch_model.bin")  # a pickle, as old repositories have
    assert resolve_weights(str(folder)).file == "pytorch_model.bin"
    with pytest.raises(OSError, match="no safetensors weights.*weights_only"):
        resolve_weights(str(folder), use_safetensors=True)  # --use_safetensors true still forces them
    loaded = Ensemble.from_pretrained(str(folder), device="cpu")
    expected = tiny[0].state_dict()["classifier.weight"]
    assert torch.equal(loaded.members[0].model.state_dict()["classifier.weight"], expected)

    marker = tmp_path / "code-ran"
    hostile = dict(tiny[0].state_dict(), payload=_RunsCodeWhenUnpickled(marker))
    torch.save(hostile, folder / "pytorch_model.bin")
    with pytest.raises(Exception, match="(?i)weights_only|unsupported global|unpickl"):
        Ensemble.from_pretrained(str(folder), device="cpu")
    assert not marker.exists()


def test_a_plot_that_fails_half_way_leaves_the_old_png_intact(tmp_path):
    from hf_trainer.evaluation.plots import save_figure

    target = tmp_path / "f1_per_label.png"
    target.write_bytes(b"\x89PNG old plot")

    class HalfWrittenFigure:
        def savefig(self, handle, **kwargs):
            handle.write(b"\x89PNG new, half")
            raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        save_figure(HalfWrittenFigure(), target, dpi=100)
    assert target.read_bytes() == b"\x89PNG old plot" and [p.name for p in tmp_path.iterdir()] == [
        target.name
    ]
