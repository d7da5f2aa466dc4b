"""Tuned thresholds are the thresholds applied: tuning, ensemble.json, evaluate_test.py and
Ensemble.predict make exactly the same decisions, even with saturated (near 0 or 1) probabilities."""

from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from hf_trainer.data.labels import UNSMILE_LABELS
from hf_trainer.members.transformer import TransformerMember
from hf_trainer.metrics.multilabel import binarize, multilabel_metrics, sigmoid
from hf_trainer.selection.ensemble import EnsembleSpec
from hf_trainer.selection.thresholds import best_threshold
from hf_trainer.selection.weight_search import combine
from hf_trainer.serving.inference import Ensemble
from hf_trainer.training.modeling import build_wordpiece_tokenizer
from tests.helpers import load_recipe

ROWS, MEMBERS = 400, 3


class LookupClassifier(torch.nn.Module):
    """A 'member' whose logits for a comment are fixed: row i's text is the word r{i}."""

    def __init__(self, logits: np.ndarray, token_rows: dict[int, int]) -> None:
        super().__init__()
        self.config = SimpleNamespace(
            num_labels=len(UNSMILE_LABELS), id2label=dict(enumerate(UNSMILE_LABELS))
        )
        self.table = torch.as_tensor(logits)
        self.token_rows = token_rows

    def forward(self, input_ids, attention_mask=None, **kwargs):
        rows = [self.token_rows[int(token)] for token in input_ids[:, 1]]  # the word after [CLS]
        return SimpleNamespace(logits=self.table[rows])


def saturated_logits(seed: int, labels: np.ndarray) -> np.ndarray:
    """Confident members: logits 12-17 for positives (sigmoid within 1e-5 of 1, many float32 ties)."""
    rng = np.random.default_rng(seed)
    high = rng.uniform(12, 17, labels.shape)
    noise = rng.random(labels.shape) < 0.15  # some confident mistakes, so thresholds matter
    positive = (labels > 0.5) ^ noise
    return np.where(
        positive, high, -high + rng.uniform(0, 30, labels.shape) * (rng.random(labels.shape) < 0.3)
    )


@pytest.fixture(scope="module")
def saturated(tmp_path_factory):
    root = tmp_path_factory.mktemp("saturated")
    rng = np.random.default_rng(0)
    labels = (rng.random((ROWS, len(UNSMILE_LABELS))) < 0.3).astype(np.float32)
    logits = [saturated_logits(seed, labels).astype(np.float32) for seed in range(MEMBERS)]
    for m, member_logits in enumerate(logits):
        for split in ("val", "test"):  # test = the same rows: its scores must equal what tuning saw
            folder = root / f"member{m}" / "predictions"
            folder.mkdir(parents=True, exist_ok=True)
            np.savez(
                folder / f"{split}.npz",
                probs=sigmoid(member_logits),
                labels=labels,
                ids=np.arange(ROWS),
                label_names=np.asarray(UNSMILE_LABELS),
            )
    ensemble_dir = root / "ensemble"
    load_recipe("ensemble").main(["--members", *(str(root / f"member{m}") for m in range(MEMBERS)),
                                  "--output_dir", str(ensemble_dir)])  # fmt: skip
    load_recipe("thresholds").main(["--ensemble_dir", str(ensemble_dir)])
    return root, labels, logits


def test_saved_thresholds_reproduce_the_tuned_val_f1_and_decisions(saturated):
    root, labels, logits = saturated
    spec = EnsembleSpec.load(root / "ensemble")
    mixed = combine([sigmoid(x) for x in logits], spec.weights)
    assert len(np.unique(mixed)) < mixed.size  # saturated: many equal scores
    reloaded = json.loads((root / "ensemble" / "ensemble.json").read_text())["thresholds"]
    assert reloaded == spec.thresholds  # JSON keeps every bit of the float64 thresholds
    decisions = binarize(mixed, spec.thresholds)
    applied = multilabel_metrics(mixed, labels, UNSMILE_LABELS, spec.thresholds)
    assert applied["f1_macro"] == spec.threshold_report["val_f1_macro_tuned"]
    for j, name in enumerate(UNSMILE_LABELS):
        _, tuned_f1 = best_threshold(mixed[:, j], labels[:, j])
        assert applied["per_label"][name]["f1"] == pytest.approx(tuned_f1, abs=1e-12), name
        assert spec.threshold_report["per_label"][name]["threshold"] == spec.thresholds[j]
    result = load_recipe("evaluate_test").main(["--ensemble_dir", str(root / "ensemble")])
    assert result["systems"]["ensemble tuned"]["f1_macro"] == spec.threshold_report["val_f1_macro_tuned"]

    texts = [f"r{i}" for i in range(ROWS)]
    tokenizer = build_wordpiece_tokenizer(texts * 2, vocab_size=10 * ROWS)
    token_rows = {tokenizer.convert_tokens_to_ids(t): i for i, t in enumerate(texts)}
    models = [LookupClassifier(x, token_rows) for x in logits]
    ensemble = Ensemble([TransformerMember(m, tokenizer, device="cpu") for m in models], spec)
    predicted = ensemble.predict(texts, batch_size=37)
    expected = [[n for n, on in zip(UNSMILE_LABELS, row, strict=True) if on] for row in decisions]
    assert [p["labels"] for p in predicted] == expected


def test_a_midpoint_that_rounds_onto_the_lower_score_falls_back_to_the_chosen_score():
    lower = 0.9999999999999998  # the largest float64 below 1 but one
    upper = np.nextafter(lower, 1.0)
    threshold, f1 = best_threshold(np.array([upper, lower, 0.2]), np.array([1, 0, 0]))
    assert f1 == 1.0 and lower < threshold <= upper
    assert binarize(np.array([[upper], [lower]]), [threshold]).ravel().tolist() == [1, 0]
