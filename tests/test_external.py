"""Scoring a labelled file from another source through a label map (recipes/evaluate_external.py)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn.metrics import f1_score

from hf_trainer.data.labels import UNSMILE_LABELS
from hf_trainer.evaluation.external import (
    external_evaluation,
    gold_matrix,
    read_label_map,
    read_labelled_file,
)
from hf_trainer.utils.errors import InputNotFound, InvalidInput
from tests.helpers import DEMO_TRAIN, load_recipe

MAP = {"gender": "여성/가족", "race": "인종/국적", "offensive": "악플/욕설", "none": "clean"}
# Made-up rows in another source's labels (never UnSmile's): "weird" is not in the map.
ROWS = [("여자는 다 똑같아", "gender"), ("그 나라 사람들 싫다", "race"), ("꺼져 바보야", "offensive"),
        ("오늘 날씨 좋다", "none"), ("이상한 혐오", "weird"), ("여자랑 그 나라 사람", "gender,race"),
        ("밥 먹자", ""), ("여자 친구 생일", "none")] * 4  # fmt: skip


class WordEnsemble:
    """Flags 여성/가족 for 여자, 인종/국적 for 나라, 악플/욕설 for 꺼져."""

    labels, thresholds = list(UNSMILE_LABELS), np.full(len(UNSMILE_LABELS), 0.5)

    def predict_proba(self, texts):
        probs = np.full((len(texts), len(self.labels)), 0.1)
        for word, label in (("여자", "여성/가족"), ("나라", "인종/국적"), ("꺼져", "악플/욕설")):
            probs[[word in t for t in texts], self.labels.index(label)] = 0.9
        return probs


def write_inputs(tmp_path, mapping=MAP):
    """The rows as a TSV with a blank line after every third row (so a row's line is not its index + 2)."""
    data = tmp_path / "their.tsv"
    lines = [f"{i}\t{t}\t{y}\n" + ("\n" if i % 3 == 2 else "") for i, (t, y) in enumerate(ROWS)]
    data.write_text("id\ttext\tlabels\n" + "".join(lines), encoding="utf-8")
    label_map = tmp_path / "map.json"
    label_map.write_text(json.dumps(mapping, ensure_ascii=False), encoding="utf-8")
    return data, label_map


def test_figures_through_a_many_label_map(tmp_path):
    data, label_map = write_inputs(tmp_path)
    rows = read_labelled_file(data, "text", "labels")
    texts, labels = rows.texts, rows.labels
    mapping = read_label_map(label_map)
    gold, hate, how = gold_matrix(labels, mapping)
    assert how["unmapped_labels"] == {"weird": 4} and hate.sum() == 4 * 4  # gender, race, weird, gender+race
    result, probs, gold_returned, hate_returned = external_evaluation(
        WordEnsemble(), texts, labels, mapping, resamples=200
    )
    assert np.array_equal(gold_returned, gold) and np.array_equal(hate_returned, hate)
    decided = probs >= 0.5
    for name in ("여성/가족", "인종/국적", "악플/욕설"):
        j = UNSMILE_LABELS.index(name)
        assert result["per_label"][name]["f1"] == pytest.approx(f1_score(gold[:, j], decided[:, j]))
        low, high = result["per_label"][name]["ci"]
        assert low <= result["per_label"][name]["f1"] <= high
    assert set(result["per_label"]) == {"여성/가족", "인종/국적", "악플/욕설"}  # only what the map names
    # Binary hate: 여자 in "여자 친구 생일" is a false positive, "이상한 혐오" (unmapped) a miss.
    binary = result["binary_hate"]
    assert binary["precision"]["value"] == pytest.approx(12 / 16) and binary["recall"][
        "value"
    ] == pytest.approx(12 / 16)
    assert binary["hate_rows"] == 16 and binary["flagged_rows"] == 16


@pytest.fixture(scope="module")
def char_ngram_folder(tmp_path_factory):
    from hf_trainer.members.char_ngram import CharNgramSettings, fit_char_ngram

    lines = DEMO_TRAIN.read_text(encoding="utf-8").split("\n")
    header = lines[0].split("\t")
    rows = [line.split("\t") for line in lines[1:401] if line]
    gold = np.array([[float(r[header.index(n)]) for n in UNSMILE_LABELS] for r in rows], dtype=np.float32)
    member, _ = fit_char_ngram(
        [r[0] for r in rows], gold, list(UNSMILE_LABELS), CharNgramSettings(), c_grid=(4.0,)
    )
    folder = tmp_path_factory.mktemp("external") / "char-ngram"
    folder.mkdir()
    member.save(folder)
    return folder


def run_recipe_on(folder, data, label_map, out):
    return load_recipe("evaluate_external").main(
        [
            "--ensemble_dir",
            str(folder),
            "--data",
            str(data),
            "--label_map",
            str(label_map),
            "--output_dir",
            str(out),
        ]
    )


def test_the_recipe_writes_figures_errors_and_a_plot(char_ngram_folder, tmp_path):
    data, label_map = write_inputs(tmp_path)
    out = tmp_path / "out"
    result = run_recipe_on(char_ngram_folder, data, label_map, out)
    saved = json.loads((out / "external_metrics.json").read_text(encoding="utf-8"))
    assert saved["rows"] == len(ROWS) and saved["ensemble_dir"] == str(char_ngram_folder)
    assert (out / "external_calibration.png").stat().st_size > 0
    errors = [
        line.split("\t") for line in (out / "external_errors.tsv").read_text(encoding="utf-8").splitlines()
    ]
    assert errors[0] == ["error", "line", "margin", "their_labels", "text"] and len(errors) > 1
    file_lines = data.read_text(encoding="utf-8").split("\n")
    hate_labels = {"gender", "race", "weird"}  # what the map sends to a hate label, and the unmapped one
    for kind, line, margin, their_labels, text in errors[1:]:
        # Each error names the line of the file it came from, and its kind follows its labels and margin.
        assert file_lines[int(line) - 1].split("\t")[1:] == [text, their_labels]
        is_hate = bool(hate_labels & set(their_labels.split(",")))
        assert kind == ("false negative" if is_hate else "false positive")
        assert (float(margin) < 0) == is_hate
    margins = [abs(float(row[2])) for row in errors[1:] if row[0] == errors[1][0]]
    assert margins == sorted(margins, reverse=True)  # most confident first
    binary = result["binary_hate"]
    assert sum(row[0] == "false positive" for row in errors[1:]) == binary["flagged_rows"] - round(
        binary["precision"]["value"] * binary["flagged_rows"]
    )


def test_a_map_to_labels_no_row_has_gives_no_f1_and_leaves_no_stale_plot(char_ngram_folder, tmp_path):
    out = tmp_path / "out"
    run_recipe_on(char_ngram_folder, *write_inputs(tmp_path), out)
    assert (out / "external_calibration.png").is_file()
    only_clean = tmp_path / "only_clean"
    only_clean.mkdir()
    result = run_recipe_on(
        char_ngram_folder, *write_inputs(only_clean, {"none": "clean", "종교": "종교"}), out
    )
    # The earlier run's plot would not match these figures: it is gone, and no new one is drawn.
    assert not (out / "external_calibration.png").exists()
    assert result["per_label"]["종교"]["f1"] is None and result["per_label"]["종교"]["support"] == 0
    assert set(result["unmapped_labels"]) == {"gender", "race", "offensive", "weird"}


def test_bad_maps_and_files_are_named(tmp_path):
    bad = tmp_path / "map.json"
    bad.write_text(json.dumps({"gender": "여성"}, ensure_ascii=False), encoding="utf-8")
    with pytest.raises(InvalidInput, match="'gender' maps to '여성', not one of"):
        read_label_map(bad)
    data = tmp_path / "their.tsv"
    data.write_text("text\tlabels\n안녕\tnone\textra\n", encoding="utf-8")
    with pytest.raises(InvalidInput, match="their.tsv, line 2: 3 fields, 2 expected"):
        read_labelled_file(data, "text", "labels")
    with pytest.raises(InvalidInput, match="no column 'comment'"):
        read_labelled_file(data, "comment", "labels")
    blank = tmp_path / "blank.tsv"
    blank.write_text("labels\ttext\nnone\t안녕\n\ngender\t \n", encoding="utf-8")
    with pytest.raises(InvalidInput, match="blank.tsv, line 4, column 8: the 'text' cell is empty"):
        read_labelled_file(blank, "text", "labels")
    with pytest.raises(InputNotFound, match="--data .*missing.tsv not found"):
        read_labelled_file(tmp_path / "missing.tsv", "text", "labels")
    with pytest.raises(InputNotFound, match="missing.json not found"):
        read_label_map(tmp_path / "missing.json")
    latin1 = tmp_path / "latin1.json"
    latin1.write_bytes('{"gender": "clean", "caf\u00e9": "clean"}'.encode("latin-1"))
    with pytest.raises(InvalidInput, match="latin1.json, byte 24: not UTF-8"):
        read_label_map(latin1)
    spaced = tmp_path / "spaced.json"
    spaced.write_text(
        json.dumps({"gender ": "여성/가족", "none": "clean"}, ensure_ascii=False), encoding="utf-8"
    )
    assert read_label_map(spaced) == {"gender": "여성/가족", "none": "clean"}  # as the file's cells are read
    spaced.write_text(
        json.dumps({"gender ": "여성/가족", "gender": "clean"}, ensure_ascii=False), encoding="utf-8"
    )
    with pytest.raises(InvalidInput, match="the same label once their spaces are stripped"):
        read_label_map(spaced)
