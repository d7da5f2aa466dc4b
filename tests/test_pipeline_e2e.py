"""Tiny members trained for real -> ensemble -> thresholds -> the one test evaluation -> inference."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from hf_trainer import Ensemble
from hf_trainer.data.labels import UNSMILE_LABELS, LabelSchema
from hf_trainer.data.loading import read_labelled_tsv
from hf_trainer.evaluation.test_once import RescoreRefused
from hf_trainer.selection.ensemble import EnsembleSpec
from hf_trainer.selection.weight_search import combine
from tests.helpers import DEMO_TEST, PIPELINE_MEMBERS, REPO_ROOT, load_recipe

MEMBERS = PIPELINE_MEMBERS


def test_ensemble_json_holds_weights_thresholds_and_member_scores(pipeline_dir):
    spec = EnsembleSpec.load(pipeline_dir / "ensemble")
    assert spec.labels == list(UNSMILE_LABELS) and len(spec.members) == 3
    assert spec.weights.sum() == pytest.approx(1.0)
    assert [m["path"] for m in spec.members] == [f"../{p}" for p in MEMBERS]
    assert all(0 <= m["val_f1_macro"] <= m["val_f1_macro_tuned"] <= 1 for m in spec.members)
    assert len(spec.thresholds) == 10
    report = spec.threshold_report
    assert report["val_f1_macro_tuned"] >= report["val_f1_macro_at_0.5"]
    assert spec.objective_value == pytest.approx(report["val_f1_macro_all_tuned"], abs=1e-9)


def test_report_files_and_once_only_guard(pipeline_dir):
    report = pipeline_dir / "ensemble" / "report"
    metrics = json.loads((report / "test_metrics.json").read_text(encoding="utf-8"))
    assert {"ensemble @0.5", "ensemble tuned", "tiny-bert @0.5", "tiny-bert tuned"} <= set(metrics["systems"])
    assert metrics["test_rows"] == 150 and "ensemble.json" in metrics["inputs"]
    for png in ("f1_per_label.png", "threshold_curves.png", "training_curves.png"):
        data = (report / png).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 20_000, png
    text = (report / "report.md").read_text(encoding="utf-8")
    assert "| 기타 혐오 |" in text and "KcBERT baseline (published)" in text and "| macro avg |" in text
    # The per-label comparison: one column per system, then the published baseline. Its 기타 혐오 row
    # holds each system's F1 (from test_metrics.json) and the baseline's 0.30, cell by cell.
    comparison = text.split("## Per-label F1, every system", 1)[1].split("\n## ", 1)[0]
    rows = [
        [c.strip().strip("*") for c in line.strip().strip("|").split("|")] for line in comparison.splitlines()
    ]
    header = next(r for r in rows if r[0] == "label")
    assert header[1:] == [*metrics["systems"], "KcBERT baseline (published)"]
    other_hate = [r for r in rows if r[0] == "기타 혐오"]
    assert len(other_hate) == 1
    expected = [f"{m['per_label']['기타 혐오']['f1']:.4f}" for m in metrics["systems"].values()]
    assert other_hate[0] == ["기타 혐오", *expected, "0.30"]
    assert [r for r in rows if r[0] == "macro F1"][0][-1] == "0.76"

    evaluate = load_recipe("evaluate_test").main
    before = (report / "test_metrics.json").read_bytes()
    with pytest.raises(RescoreRefused, match="already scored 1 time.*--force"):
        evaluate(["--ensemble_dir", str(pipeline_dir / "ensemble")])
    assert (report / "test_metrics.json").read_bytes() == before
    assert "Test evaluations of this output folder: 1.**" in text
    again = evaluate(["--ensemble_dir", str(pipeline_dir / "ensemble"), "--force"])
    assert again["systems"]["ensemble tuned"] == metrics["systems"]["ensemble tuned"]
    # The first report was moved aside, not overwritten, and the second one says it is the second.
    (old,) = (pipeline_dir / "ensemble").glob("report.old-*")
    assert (old / "test_metrics.json").read_bytes() == before
    assert (
        again["test_evaluation"] == 2
        and json.loads((pipeline_dir / "test_evaluations.json").read_text())["count"] == 2
    )
    assert "Test evaluations of this output folder: 2.**" in (report / "report.md").read_text(
        encoding="utf-8"
    )


def test_python_inference_reproduces_the_saved_test_probabilities(pipeline_dir):
    ensemble = Ensemble.from_pretrained(str(pipeline_dir / "ensemble"), device="cpu")
    test_file = read_labelled_tsv(DEMO_TEST, LabelSchema())
    rows = [0, 3, 17, 149]
    probs = ensemble.predict_proba([test_file.texts[i] for i in rows], batch_size=3)
    saved = combine(
        [np.load(pipeline_dir / p / "predictions" / "test.npz")["probs"] for p in MEMBERS], ensemble.weights
    )
    assert np.allclose(probs, saved[rows], atol=1e-5)
    results = ensemble.predict([test_file.texts[0]])
    assert set(results[0]["scores"]) == set(UNSMILE_LABELS)
    expected = [n for n, p, t in zip(UNSMILE_LABELS, probs[0], ensemble.thresholds, strict=True) if p >= t]
    assert results[0]["labels"] == expected


def test_hostile_inputs_get_one_scored_row_each(pipeline_dir):
    ensemble = Ensemble.from_pretrained(str(pipeline_dir / "ensemble"), device="cpu")
    texts = [
        "",
        "   ",
        "😀🔥👍",
        "가" * 10_000,
        "mixed 한국어 English 日本語 123",
        "ctrl\x00\x07\x1b[31m",
        "\t",
    ]
    results = ensemble.predict(texts)
    assert len(results) == len(texts)
    assert all(len(r["scores"]) == 10 and all(0 <= v <= 1 for v in r["scores"].values()) for r in results)
    streamed = list(ensemble.predict_stream(iter(texts), chunk_size=2))
    assert len(streamed) == len(texts)
    for a, b in zip(streamed, results, strict=True):  # other batches pad differently: tiny float noise
        assert a["scores"] == pytest.approx(b["scores"], abs=1e-4)


def test_single_member_folder_loads_as_an_ensemble(pipeline_dir):
    single = Ensemble.from_pretrained(str(pipeline_dir / "tiny-bert"), device="cpu")
    saved = np.load(pipeline_dir / "tiny-bert" / "predictions" / "test.npz")["probs"]
    text = read_labelled_tsv(DEMO_TEST, LabelSchema()).texts[5]
    assert np.allclose(single.predict_proba([text])[0], saved[5], atol=1e-5)
    assert single.thresholds.tolist() == [0.5] * 10


def test_predict_cli_writes_one_json_line_per_input_line(pipeline_dir, tmp_path):
    lines = ["여자들은 다 똑같다", "", "오늘 날씨 좋네요", "x" * 5000]
    source = tmp_path / "in.txt"
    source.write_text("\n".join(lines) + "\n", encoding="utf-8")
    out = tmp_path / "out.jsonl"
    cmd = [
        sys.executable,
        str(REPO_ROOT / "recipes" / "predict.py"),
        "--ensemble",
        str(pipeline_dir / "ensemble"),
        "--input",
        str(source),
        "--output",
        str(out),
        "--chunk_size",
        "3",
    ]
    subprocess.run(cmd, check=True, capture_output=True, timeout=300)
    records = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [r["line"] for r in records] == [1, 2, 3, 4]
    assert [r["text"] for r in records] == lines
    assert all(set(r["scores"]) == set(UNSMILE_LABELS) for r in records)

    # stdin -> stdout, and a TSV column as input.
    tsv = tmp_path / "in.tsv"
    tsv.write_text("id\t문장\n1\t안녕하세요\n2\t바보 같은 글\n", encoding="utf-8")
    c_locale = os.environ | {"LC_ALL": "C", "LANG": "C", "PYTHONUTF8": "0", "PYTHONCOERCECLOCALE": "0"}
    piped = subprocess.run(
        cmd[:4] + ["--tsv_column", "문장"], input=tsv.read_bytes(), capture_output=True, check=True, timeout=300,
        env=c_locale,
    )  # fmt: skip
    records = [json.loads(line) for line in piped.stdout.decode("utf-8").splitlines()]
    assert [r["text"] for r in records] == ["안녕하세요", "바보 같은 글"]  # Korean intact under a C locale
    quiet = subprocess.run(cmd + ["--no_text"], capture_output=True, check=True, timeout=300)
    assert quiet.returncode == 0
    records = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert len(records) == 4 and "text" not in records[0]
