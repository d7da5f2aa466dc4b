"""End to end: recipes/train.py with the tiny presets on the demo sample."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from transformers import AutoModelForSequenceClassification, AutoTokenizer, TrainingArguments, pipeline

from hf_trainer.data.labels import UNSMILE_LABELS, LabelSchema
from hf_trainer.data.loading import read_labelled_tsv
from tests.helpers import (
    DEMO_TEST,
    DEMO_TRAIN,
    check_saved_predictions_follow_file_rows,
    load_recipe,
    tiny_train_args,
)


def train(output_dir, preset, *extra):
    args = ["--max_train_samples", "320", "--max_eval_samples", "120", "--tiny_vocab_size", "2000"]
    return load_recipe("train").main(tiny_train_args(preset, output_dir, 2, *args, *extra))


@pytest.mark.parametrize("preset", ["tiny-electra", "tiny-bert", "tiny-roberta"])
def test_train_writes_the_output_contract(tmp_path, preset):
    out = tmp_path / preset
    metrics = train(out, preset)
    for name in (
        "model.safetensors",
        "config.json",
        "tokenizer.json",
        "pos_weight.json",
        "metrics.json",
        "run_config.json",
        "trainer_state.json",
    ):
        assert (out / name).is_file(), name
    # Weights only as safetensors: no pickled weights (pytorch_model*.bin) anywhere, in the final folder or
    # a checkpoint. The one .bin allowed at the top is the Trainer's own training_args.bin, the pickled
    # TrainingArguments (it holds no tensors).
    assert not list(out.rglob("pytorch_model*")), list(out.rglob("pytorch_model*"))
    assert sorted(p.name for p in out.glob("*.bin")) == ["training_args.bin"]
    saved_args = torch.load(out / "training_args.bin", weights_only=False)
    assert isinstance(saved_args, TrainingArguments) and saved_args.output_dir == str(out)
    for checkpoint in out.glob("checkpoint-*"):
        assert (checkpoint / "model.safetensors").is_file(), checkpoint
        assert sorted(p.name for p in checkpoint.glob("*.bin")) == ["training_args.bin"], checkpoint
    config = json.loads((out / "config.json").read_text(encoding="utf-8"))
    assert list(config["id2label"].values()) == list(UNSMILE_LABELS)
    assert config["problem_type"] == "multi_label_classification" and config["classifier_dropout"] == 0.3
    assert metrics["epochs_trained"] == 2 and 0.0 <= metrics["val"]["f1_macro"] <= 1.0

    # Saved ids are the rows of the input files: test = the first 120 data rows of the test file, in
    # order; val = rows of the train file (the stratified split), with those rows' labels and texts.
    test_ids = check_saved_predictions_follow_file_rows(out, "test", DEMO_TEST)
    assert test_ids.tolist() == list(range(120))
    val_ids = check_saved_predictions_follow_file_rows(out, "val", DEMO_TRAIN)
    assert len(val_ids) == 120 and np.all(np.diff(val_ids) > 0) and val_ids[-1] >= 120  # not just 0..119
    test_file = read_labelled_tsv(DEMO_TEST, LabelSchema())
    test = np.load(out / "predictions" / "test.npz")
    assert list(test["label_names"]) == list(UNSMILE_LABELS)
    val = np.load(out / "predictions" / "val.npz")
    assert val["probs"].shape == (120, 10) and np.all((val["probs"] >= 0) & (val["probs"] <= 1))

    # The saved folder reloads with plain transformers and gives the same probabilities.
    tokenizer = AutoTokenizer.from_pretrained(out)
    model = AutoModelForSequenceClassification.from_pretrained(out).eval()
    row = 7
    enc = tokenizer(test_file.texts[row], return_tensors="pt", truncation=True, max_length=128)
    probs = model(**enc).logits.sigmoid().detach().numpy()[0]
    assert np.allclose(probs, test["probs"][row], atol=1e-5)
    scores = pipeline("text-classification", model=str(out), top_k=None, function_to_apply="sigmoid")(
        [test_file.texts[row]]
    )[0]
    by_label = {item["label"]: item["score"] for item in scores}
    assert set(by_label) == set(UNSMILE_LABELS)
    assert by_label["clean"] == pytest.approx(float(test["probs"][row][9]), abs=1e-5)


def test_tiny_model_learns_on_the_demo_sample(tmp_path):
    # Guards against a silently broken loss/label path: 6 epochs must beat the first epoch clearly.
    metrics = train(tmp_path / "learn", "tiny-bert", "--epochs", "6", "--max_train_samples", "1400")
    history = json.loads((tmp_path / "learn" / "trainer_state.json").read_text())["log_history"]
    f1 = [e["eval_f1_macro"] for e in history if "eval_f1_macro" in e]
    assert metrics["val"]["f1_macro"] > max(0.5, f1[0] + 0.1), f1
