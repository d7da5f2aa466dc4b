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
from hf_trainer.utils.errors import InvalidInput
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


def write_inputs(tmp_path):
    data = tmp_path / "their.tsv"
    data.write_text(
        "id\ttext\tlabels\n" + "".join(f"{i}\t{t}\t{y}\n" for i, (t, y) in enumerate(ROWS)), encoding="utf-8"
    )
    label_map = tmp_path / "map.json"
    label_map.write_text(json.dumps(MAP, ensure_ascii=False), encoding="utf-8")
    return data, label_map


def test_figures_through_a_many_label_map(tmp_path):
    data, label_map = write_inputs(tmp_path)
    texts, labels = read_labelled_file(data, "text", "labels")
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


def test_the_recipe_writes_figures_errors_and_a_plot(tmp_path):
    from hf_trainer.members.char_ngram import CharNgramSettings, fit_char_ngram

    lines = DEMO_TRAIN.read_text(encoding="utf-8").split("\n")
    header = lines[0].split("\t")
    rows = [line.split("\t") for line in lines[1:401] if line]
    gold = np.array([[float(r[header.index(n)]) for n in UNSMILE_LABELS] for r in rows], dtype=np.float32)
    member, _ = fit_char_ngram(
        [r[0] for r in rows], gold, list(UNSMILE_LABELS), CharNgramSettings(), c_grid=(4.0,)
    )
    folder = tmp_path / "char-ngram"
    folder.mkdir()
    member.save(folder)
    data, label_map = write_inputs(tmp_path)
    out = tmp_path / "out"
    result = load_recipe("evaluate_external").main(
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
    saved = json.loads((out / "external_metrics.json").read_text(encoding="utf-8"))
    assert saved["binary_hate"] == result["binary_hate"] and saved["rows"] == len(ROWS)
    assert (out / "external_calibration.png").stat().st_size > 0
    errors = (out / "external_errors.tsv").read_text(encoding="utf-8").splitlines()
    assert errors[0] == "error\tline\tmargin\ttheir_labels\ttext"
    assert all(line.split("\t")[0] in ("false positive", "false negative") for line in errors[1:])


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
