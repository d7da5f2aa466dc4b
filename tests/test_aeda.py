from __future__ import annotations

import random

import numpy as np
import pytest
from datasets import Dataset

from hf_trainer.data.aeda import (
    PUNCTUATION_MARKS,
    augment_minority_classes,
    insert_punctuation,
    select_minority_labels,
)
from hf_trainer.data.loading import FEATURES

SENTENCES = [
    "이 댓글은 정말 너무 심하다 그렇지 않나요",
    "짧다",
    "두 단어",
    "a b c d e f g h i j k l m n o p q r s t",
]


@pytest.mark.parametrize("text", SENTENCES)
def test_only_marks_are_inserted_and_words_keep_their_order(text):
    for seed in range(50):
        out = insert_punctuation(text, random.Random(seed))
        tokens = out.split(" ")
        marks = [t for t in tokens if t in PUNCTUATION_MARKS]
        assert [t for t in tokens if t not in PUNCTUATION_MARKS] == text.split(" ")
        n_words = len(text.split(" "))
        assert 1 <= len(marks) <= int(0.3 * n_words + 1)
        # A mark stands directly before a word, never twice in a row, never at the end.
        assert tokens[-1] not in PUNCTUATION_MARKS
        assert all(
            not (a in PUNCTUATION_MARKS and b in PUNCTUATION_MARKS)
            for a, b in zip(tokens, tokens[1:], strict=False)
        )


def test_same_seed_same_output_and_seeds_differ():
    text = SENTENCES[3]
    assert insert_punctuation(text, random.Random(3)) == insert_punctuation(text, random.Random(3))
    assert len({insert_punctuation(text, random.Random(s)) for s in range(20)}) > 10


def _dataset(labels: list[list[int]]) -> Dataset:
    return Dataset.from_dict(
        {
            "id": list(range(len(labels))),
            "text": [f"댓글 번호 {i} 입니다 정말로" for i in range(len(labels))],
            "labels": [[float(x) for x in row] for row in labels],
        },
        features=FEATURES,
    )


def test_minority_selection_and_copies_per_row():
    # label 0: 2/100 (rare), label 1: 50/100 (common), label 2: never positive.
    labels = [[1 if i < 2 else 0, 1 if i % 2 else 0, 0] for i in range(100)]
    assert select_minority_labels(np.asarray(labels), 0.05) == [0]
    ds = _dataset(labels)
    out, added = augment_minority_classes(ds, ["rare", "common", "never"], max_ratio=0.05, factor=3, seed=1)
    assert added == {"rare": 4}
    assert len(out) == 104
    flags = np.asarray(out["augmented"])
    copies = out.select(np.flatnonzero(flags))
    assert sorted(copies["id"]) == [0, 0, 1, 1]
    for row in copies:
        source = ds[row["id"]]
        assert row["labels"] == source["labels"] and row["text"] != source["text"]
        assert [t for t in row["text"].split(" ") if t not in PUNCTUATION_MARKS] == source["text"].split(" ")


def test_augmentation_is_deterministic_and_independent_of_batch_size(monkeypatch):
    # augment_minority_classes maps with datasets' default batch size (1000 rows: one batch here).
    # Force other batch sizes through Dataset.map and compare every column, row by row.
    labels = [[1 if i % 10 == 0 else 0, 1] for i in range(200)]

    def run(seed, batch_size=None):
        seen = []
        if batch_size is not None:
            original = Dataset.map

            def map_with_batch_size(self, function, *args, **kwargs):
                seen.append(kwargs.get("batched"))
                return original(self, function, *args, **(kwargs | {"batch_size": batch_size}))

            monkeypatch.setattr(Dataset, "map", map_with_batch_size)
        out, added = augment_minority_classes(
            _dataset(labels), ["x", "y"], max_ratio=0.2, factor=3, seed=seed
        )
        monkeypatch.undo()
        assert batch_size is None or seen == [True]  # the batch size really reached the one batched map
        return out.to_dict(), added

    default, added = run(5)
    assert set(default) == {"id", "text", "labels", "augmented"}
    assert added == {"x": 40} and len(default["text"]) == 240
    for batch_size in (1, 7, 64):
        assert run(5, batch_size) == (default, added), batch_size
    assert run(5) == (default, added)
    assert run(6)[0]["text"] != default["text"]


def test_factor_one_adds_nothing():
    out, added = augment_minority_classes(_dataset([[1, 0]] + [[0, 1]] * 99), ["x", "y"], factor=1)
    assert len(out) == 100 and added == {}


def test_only_the_train_split_is_augmented():
    from hf_trainer.data.arguments import DataArguments
    from hf_trainer.data.preparation import prepare_splits
    from tests.helpers import DEMO_TEST, DEMO_TRAIN

    splits, report = prepare_splits(
        DataArguments(train_file=str(DEMO_TRAIN), test_file=str(DEMO_TEST)), seed=42
    )
    flags, copies = np.asarray(splits["train"]["augmented"]), np.asarray(splits["train"]["spelling_copy"])
    assert (~flags & ~copies).sum() == report["train_rows_before_aeda"] and flags.sum() > 0
    assert copies.sum() == report["spelling_copies_added"] > 0
    originals = set(np.asarray(splits["train"]["id"])[~flags].tolist())
    assert set(np.asarray(splits["train"]["id"])[flags].tolist()) <= originals
    for name in ("validation", "test"):
        assert "augmented" not in splits[name].column_names
        assert len(splits[name]) == report["rows"][name]
    assert set(report["aeda_rows_added"]) == {"연령", "기타 혐오"}


def test_spelling_copies_default_to_the_member_kinds_choice(tmp_path, caplog):
    from hf_trainer.data.arguments import DataArguments
    from hf_trainer.data.loading import save_prepared_splits
    from hf_trainer.data.preparation import prepare_splits
    from hf_trainer.training.arguments import parse_train_args
    from tests.helpers import DEMO_TEST, DEMO_TRAIN

    shares = {
        m: parse_train_args(["--model", m])[1].spelling_copies for m in ("char-ngram", "tiny-bert", "roberta")
    }
    assert shares == {"char-ngram": 0.5, "tiny-bert": 0.0, "roberta": 0.0}
    assert parse_train_args(["--model", "tiny-bert", "--spelling_copies", "0.2"])[1].spelling_copies == 0.2
    # The shared data stage prepares marked copies; a member that takes none leaves them out.
    raw = DataArguments(train_file=str(DEMO_TRAIN), test_file=str(DEMO_TEST))
    splits, report = prepare_splits(raw, seed=42)
    folder = save_prepared_splits(splits, report, list(raw.schema.names), tmp_path / "data")
    with_copies, kept = prepare_splits(DataArguments(prepared_data_dir=str(folder), spelling_copies=0.5), 42)
    without, left = prepare_splits(DataArguments(prepared_data_dir=str(folder), spelling_copies=0.0), 42)
    assert sum(with_copies["train"]["spelling_copy"]) == kept["spelling_copies_added"] > 0
    assert not any(without["train"]["spelling_copy"]) and left["spelling_copies_added"] == 0
    assert (
        len(without["train"])
        == len(with_copies["train"]) - kept["spelling_copies_added"]
        == left["rows"]["train"]
    )
    assert left["spelling_copies_left_out"] == kept["spelling_copies_added"]
    assert kept["spelling_copies_share"] == 0.5 and left["spelling_copies_share"] == 0.0
    # Another share than the prepared one cannot be made from the prepared splits: said, not hidden.
    with caplog.at_level("WARNING"):
        other, _ = prepare_splits(DataArguments(prepared_data_dir=str(folder), spelling_copies=0.3), 42)
    assert "hold copies of 0.5 of the train rows" in caplog.text and len(other["train"]) == len(
        with_copies["train"]
    )
    # run_all.sh gives --spelling_copies to the data stage and to every member alike.
    from hf_trainer.pipeline.stages import split_extra

    assert split_extra(["--spelling_copies", "0.5"]) == (
        ["--spelling_copies", "0.5"],
        ["--spelling_copies", "0.5"],
    )
