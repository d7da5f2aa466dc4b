from __future__ import annotations

import numpy as np
import pytest
import torch
from transformers import DataCollatorWithPadding, EarlyStoppingCallback

from hf_trainer.data.labels import UNSMILE_LABELS
from hf_trainer.metrics.multilabel import make_compute_metrics
from hf_trainer.training.arguments import RecipeTrainingArguments
from hf_trainer.training.trainer import EpochSummaryCallback, MultiLabelTrainer, compute_pos_weight
from tests.helpers import tiny_setup


def test_pos_weight_is_neg_over_pos_clamped():
    labels = np.zeros((100, 4), dtype=np.float32)
    labels[:20, 0] = 1  # 80/20 = 4
    labels[:50, 1] = 1  # 50/50 = 1
    labels[:5, 2] = 1  # 95/5 = 19 -> 10
    weights = compute_pos_weight(labels)  # label 3 has no positive -> the cap
    assert weights.tolist() == pytest.approx([4.0, 1.0, 10.0, 10.0])
    assert weights.dtype == np.float32


def test_pos_weight_on_real_train_split_matches_design_table(unsmile_dir):
    from hf_trainer.data.arguments import DataArguments
    from hf_trainer.data.preparation import prepare_splits

    for factor, expected in ((1, 3.8), (2, 4.1)):
        # The design's 3.8 is on the original rows; the AEDA copies (rows of rare labels) make
        # 악플/욕설 relatively rarer in the split the model sees.
        splits, _ = prepare_splits(DataArguments(data_dir=str(unsmile_dir), aeda_factor=factor), seed=42)
        weights = dict(
            zip(UNSMILE_LABELS, compute_pos_weight(np.asarray(splits["train"]["labels"])), strict=True)
        )
        assert weights["악플/욕설"] == pytest.approx(expected, abs=0.1)
        assert weights["연령"] == 10.0 and weights["기타 혐오"] == 10.0


@pytest.fixture(scope="module")
def tiny():
    return tiny_setup("tiny-bert")


def without_dropout(tiny):
    """A new module with the fixture's weights and dropout off, so that two runs are comparable exactly
    (and no state is left by earlier trainers)."""
    from transformers import AutoModelForSequenceClassification

    model = tiny[0]
    no_dropout = dict(hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0, classifier_dropout=0.0)
    config = model.config.__class__.from_dict(model.config.to_dict() | no_dropout)
    fresh = AutoModelForSequenceClassification.from_config(config)
    fresh.load_state_dict(model.state_dict())
    return (fresh, *tiny[1:])


def make_trainer(tiny, tmp_path, **overrides):
    model, tokenizer, splits, tokenized = tiny
    args = dict(
        output_dir=str(tmp_path),
        num_train_epochs=1,
        per_device_train_batch_size=8,
        learning_rate=0.0,
        warmup_steps=0,
        save_strategy="no",
        load_best_model_at_end=False,
        disable_tqdm=True,
        seed=0,
    )
    args.update(overrides)
    trainer = MultiLabelTrainer(
        model=model,
        args=RecipeTrainingArguments(**args),
        train_dataset=tokenized["train"],
        eval_dataset=tokenized["validation"],
        processing_class=tokenizer,
        data_collator=DataCollatorWithPadding(tokenizer),
        compute_metrics=make_compute_metrics(UNSMILE_LABELS),
        pos_weight=compute_pos_weight(np.asarray(splits["train"]["labels"])),
    )
    return trainer


def test_loss_is_pos_weight_bce(tiny, tmp_path):
    trainer = make_trainer(tiny, tmp_path)
    batch = trainer.data_collator([tiny[3]["train"][i] for i in range(6)])
    batch = {k: v for k, v in batch.items() if k in ("input_ids", "attention_mask", "labels")}
    loss = trainer.compute_loss(trainer.model.eval(), batch)
    logits = trainer.model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
    expected = torch.nn.BCEWithLogitsLoss(pos_weight=trainer.pos_weight)(logits, batch["labels"])
    assert loss.item() == pytest.approx(expected.item(), rel=1e-6)
    assert expected.item() != pytest.approx(
        torch.nn.BCEWithLogitsLoss()(logits, batch["labels"]).item(), rel=1e-3
    )


def test_gradient_accumulation_does_not_scale_the_logged_loss(tiny, tmp_path):
    # lr 0 keeps the model fixed, so both runs see the same per-example losses in the same order.
    common = dict(train_sampling_strategy="sequential", logging_strategy="epoch", eval_strategy="no")
    # Dropout off, and a multiple of 8 rows: a last partial batch is weighted differently by the two set-ups.
    model, tokenizer, splits, tokenized = without_dropout(tiny)
    tokenized = dict(tokenized, train=tokenized["train"].select(range(8 * (len(tokenized["train"]) // 8))))
    even = (model, tokenizer, splits, tokenized)
    one = make_trainer(even, tmp_path / "ga1", per_device_train_batch_size=8, **common)
    two = make_trainer(
        even, tmp_path / "ga2", per_device_train_batch_size=4, gradient_accumulation_steps=2, **common
    )
    loss_one = one.train().training_loss
    loss_two = two.train().training_loss
    assert loss_two == pytest.approx(loss_one, rel=1e-5)


def test_predictions_follow_dataset_order_with_group_by_length(tiny, tmp_path):
    trainer = make_trainer(
        tiny, tmp_path, train_sampling_strategy="group_by_length", per_device_eval_batch_size=8
    )
    val = tiny[3]["validation"]
    assert len(set(val["length"])) > 3  # lengths differ, so a length-grouped order would differ
    probs, labels = trainer.predict_probabilities(val)
    assert np.array_equal(labels, np.asarray(val["labels"], dtype=np.float32))
    model = trainer.model.eval()
    with torch.no_grad():
        for i in (0, 5, len(val) - 1):
            row = val[i]
            logits = model(
                input_ids=torch.tensor([row["input_ids"]]),
                attention_mask=torch.tensor([row["attention_mask"]]),
            ).logits
            assert np.allclose(torch.sigmoid(logits)[0].numpy(), probs[i], atol=1e-5)


def test_early_stopping_stops_a_stalled_run(tiny, tmp_path, caplog):
    # lr 0: val F1 never changes, so patience 2 stops after epoch 3 of 10.
    trainer = make_trainer(
        tiny,
        tmp_path,
        num_train_epochs=10,
        save_strategy="epoch",
        load_best_model_at_end=True,
        save_total_limit=1,
    )
    trainer.add_callback(EarlyStoppingCallback(early_stopping_patience=2, early_stopping_threshold=0.001))
    trainer.add_callback(EpochSummaryCallback())
    with caplog.at_level("INFO", logger="hf_trainer"):
        trainer.train()
    assert trainer.state.epoch == pytest.approx(3.0)
    assert trainer.state.global_step < trainer.state.max_steps
    assert "Early stopping at epoch 3" in caplog.text
    assert caplog.text.count("Best model updated!") == 1
    assert "Epoch 2/10" in caplog.text and "Val F1-Macro:" in caplog.text


def test_torch_compile_path_gives_the_same_loss(tiny, tmp_path):
    # aot_eager traces and compiles the graph without needing a C compiler; the loss must not move.
    common = dict(train_sampling_strategy="sequential", eval_strategy="no", per_device_train_batch_size=8)
    eager = make_trainer(without_dropout(tiny), tmp_path / "eager", **common).train().training_loss
    compiled_trainer = make_trainer(
        without_dropout(tiny),
        tmp_path / "compiled",
        torch_compile=True,
        torch_compile_backend="aot_eager",
        **common,
    )
    torch._dynamo.reset()
    torch._dynamo.utils.counters.clear()
    compiled = compiled_trainer.train().training_loss
    assert torch._dynamo.utils.counters["stats"]["unique_graphs"] > 0  # the compiled path really ran
    assert compiled == pytest.approx(eager, rel=1e-5)


def test_length_grouping_reads_the_precomputed_length_column(tiny, tmp_path):
    # A `length` column that disagrees with the real input_ids lengths: a sampler that re-measured
    # input_ids (the base Trainer, after it drops the column) would get other numbers.
    model, tokenizer, splits, tokenized = tiny
    real = [len(ids) for ids in tokenized["train"]["input_ids"]]
    fake = (1000 + np.random.default_rng(0).permutation(len(real))).tolist()  # distinct values
    assert not set(fake) & set(real)
    train = tokenized["train"].remove_columns("length").add_column("length", fake)
    trainer = make_trainer(
        (model, tokenizer, splits, dict(tokenized, train=train)),
        tmp_path,
        train_sampling_strategy="group_by_length",
    )
    # The sampler of the dataloader the Trainer really trains with (columns removed as in training).
    sampler = trainer.get_train_dataloader().batch_sampler.sampler
    assert type(sampler).__name__ == "LengthGroupedSampler"
    assert list(sampler.lengths) == fake
    # The length-grouped order puts the longest row (by the column) first.
    assert next(iter(sampler)) == int(np.argmax(fake))
