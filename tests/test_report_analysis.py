"""The report's analysis on synthetic cases with known answers, and in the shared pipeline's report."""

from __future__ import annotations

import csv
import json
import logging

import numpy as np
import pytest

from hf_trainer import Ensemble
from hf_trainer.data.labels import UNSMILE_LABELS
from hf_trainer.evaluation.error_analysis import error_rows, label_confusion, write_errors_tsv
from hf_trainer.evaluation.report import CV_ROWS
from hf_trainer.metrics.multilabel import f1_scores, multilabel_metrics
from hf_trainer.metrics.uncertainty import f1_intervals, paired_difference, resample_counts
from hf_trainer.selection.calibration import apply_temperature, expected_calibration_error, fit_temperature
from hf_trainer.selection.cross_validation import (
    choose_thresholds,
    cross_validate_selection,
    cross_validate_thresholds,
    fold_index,
    per_label_choice,
)
from hf_trainer.selection.ensemble import EnsembleSpec
from hf_trainer.selection.thresholds import tuned_macro_f1
from hf_trainer.selection.weight_search import choose_weights
from hf_trainer.training.predictions import load_aligned
from hf_trainer.utils.errors import InvalidInput
from tests.helpers import PIPELINE_MEMBERS, load_recipe


def noisy_predictions(gold: np.ndarray, flip: float, seed: int) -> np.ndarray:
    """`gold` with each (row, label) decision flipped with probability `flip`."""
    flips = np.random.default_rng(seed).random(gold.shape) < flip
    return np.where(flips, 1 - gold, gold).astype(np.int8)


# --- the fast F1 against the metric module -----------------------------------------------------


def test_fast_f1_equals_the_metric_module_and_counts_repeated_rows():
    rng = np.random.default_rng(1)
    gold = (rng.random((300, 4)) < 0.2).astype(np.int8)
    gold[:, 3] = 0  # a label without positives: zero_division=0 as in scikit-learn
    pred = noisy_predictions(gold, 0.15, seed=1)
    module = multilabel_metrics(pred, gold, list("abcd"))
    fast = f1_scores(pred, gold)
    assert fast["f1_macro"][0] == pytest.approx(module["f1_macro"], abs=1e-12)
    assert fast["f1_micro"][0] == pytest.approx(module["f1_micro"], abs=1e-12)
    assert fast["per_label"][0] == pytest.approx([module["per_label"][n]["f1"] for n in "abcd"], abs=1e-12)
    # A weight of k counts a row k times: the same figures as the rows actually repeated.
    weights = rng.integers(0, 4, size=300)
    repeated = np.repeat(np.arange(300), weights)
    module = multilabel_metrics(pred[repeated], gold[repeated], list("abcd"))
    assert f1_scores(pred, gold, weights)["f1_macro"][0] == pytest.approx(module["f1_macro"], abs=1e-12)


# --- bootstrap --------------------------------------------------------------------------------------


def test_a_perfect_classifier_has_zero_width_intervals():
    rng = np.random.default_rng(2)
    gold = (rng.random((500, 5)) < 0.3).astype(np.int8)
    intervals = f1_intervals(gold, gold, resample_counts(500, 1000, seed=0), list("abcde"))
    assert intervals["f1_macro"] == [1.0, 1.0] and intervals["f1_micro"] == [1.0, 1.0]
    assert all(ci == [1.0, 1.0] for ci in intervals["per_label_f1"].values())


def test_intervals_hold_the_point_figure_and_narrow_with_more_rows():
    def width(rows: int) -> float:
        gold = (np.random.default_rng(rows).random((rows, 3)) < 0.3).astype(np.int8)
        pred = noisy_predictions(gold, 0.2, seed=rows)
        point = f1_scores(pred, gold)["f1_macro"][0]
        low, high = f1_intervals(pred, gold, resample_counts(rows, 1000, seed=1), list("abc"))["f1_macro"]
        assert low < point < high
        return high - low

    assert width(4000) < width(400) / 2  # ~1/sqrt(n): 10x the rows, about a third of the width


def test_identical_systems_differ_by_zero_and_equal_ones_by_noise_around_zero():
    rng = np.random.default_rng(3)
    gold = (rng.random((1500, 6)) < 0.2).astype(np.int8)
    counts = resample_counts(1500, 1000, seed=3)
    a = noisy_predictions(gold, 0.1, seed=11)
    same = paired_difference("a", a, "a again", a.copy(), gold, counts)
    assert same.ci == [0.0, 0.0] and same.mean == 0.0 and same.inside_noise
    # Two different systems with the same error rate: an interval around 0, inside the noise.
    b = noisy_predictions(gold, 0.1, seed=12)
    twins = paired_difference("a", a, "b", b, gold, counts)
    assert twins.ci[0] < 0 < twins.ci[1] and twins.inside_noise
    assert abs(twins.mean - twins.observed) < 0.01
    # A clearly better system: the interval excludes 0 and almost no resample favours the worse one.
    worse = noisy_predictions(gold, 0.25, seed=13)
    better = paired_difference("a", a, "worse", worse, gold, counts)
    assert better.ci[0] > 0 and not better.inside_noise and better.share_at_or_below_zero < 0.01


def test_pairing_cancels_the_noise_two_similar_systems_share():
    rng = np.random.default_rng(4)
    gold = (rng.random((1000, 4)) < 0.25).astype(np.int8)
    counts = resample_counts(1000, 1000, seed=5)
    a = noisy_predictions(gold, 0.1, seed=21)
    b = noisy_predictions(a, 0.02, seed=22)  # b makes most of a's mistakes, and a few of its own
    diff = paired_difference("a", a, "b", b, gold, counts)
    ci_a = f1_intervals(a, gold, counts, list("abcd"))["f1_macro"]
    # Unpaired (b on other resamples), the difference would be wider than a's own interval.
    unpaired = (
        f1_scores(a, gold, counts)["f1_macro"]
        - f1_scores(b, gold, resample_counts(1000, 1000, 6))["f1_macro"]
    )
    assert diff.ci[1] - diff.ci[0] < (ci_a[1] - ci_a[0]) / 2
    assert diff.ci[1] - diff.ci[0] < np.ptp(np.percentile(unpaired, [2.5, 97.5])) / 2


# --- cross-validation of the threshold search ------------------------------------------------------


def test_cv_on_pure_noise_estimates_no_skill_while_in_sample_tuning_looks_better():
    rng = np.random.default_rng(5)
    rows, prevalence = 500, 0.1
    labels = (rng.random((rows, 10)) < prevalence).astype(np.int8)
    scores = rng.random((rows, 10))  # no information about the labels at all
    no_skill = 2 * prevalence / (1 + prevalence)  # F1 of flagging every row
    in_sample = tuned_macro_f1(scores, labels)
    cv = cross_validate_thresholds(scores, labels, "tuned", folds=5, seed=0)["cv_f1_macro"]
    assert abs(cv - no_skill) < 0.02
    assert in_sample > cv + 0.01


def test_per_label_choice_keeps_half_where_tuning_cannot_beat_it():
    rng = np.random.default_rng(6)
    rows = 1000
    labels = (rng.random((rows, 2)) < 0.3).astype(np.int8)
    scores = np.empty((rows, 2))
    # Label 0: perfectly separated around 0.5, nothing to gain from tuning.
    scores[:, 0] = np.where(labels[:, 0] == 1, rng.uniform(0.6, 1.0, rows), rng.uniform(0.0, 0.4, rows))
    # Label 1: informative but every score below 0.5: at 0.5 nothing is flagged (F1 0).
    scores[:, 1] = np.where(labels[:, 1] == 1, rng.uniform(0.2, 0.45, rows), rng.uniform(0.0, 0.25, rows))
    thresholds, choice = per_label_choice(scores, labels, folds=5, seed=0)
    assert choice["keeps"] == ["0.5", "tuned"]
    assert thresholds[0] == 0.5 and thresholds[1] < 0.45
    assert choice["f1_at_0.5"][1] == 0.0 and choice["cv_f1_tuned"][1] > 0.7


@pytest.mark.parametrize("better", ["tuned", "per_label"])
def test_auto_ships_the_way_with_the_better_cv_estimate(better, monkeypatch):
    from hf_trainer.selection import cross_validation

    rng = np.random.default_rng(6)
    rows = 400
    labels = (rng.random((rows, 2)) < 0.3).astype(np.int8)
    scores = np.empty((rows, 2))
    # Label 0 keeps 0.5 under the per-label choice (separated around 0.5); label 1 needs tuning.
    scores[:, 0] = np.where(labels[:, 0] == 1, rng.uniform(0.6, 1.0, rows), rng.uniform(0.0, 0.4, rows))
    scores[:, 1] = np.where(labels[:, 1] == 1, rng.uniform(0.2, 0.45, rows), rng.uniform(0.0, 0.25, rows))
    estimates = (
        {"tuned": 0.70, "per_label": 0.69} if better == "tuned" else {"tuned": 0.69, "per_label": 0.70}
    )
    monkeypatch.setattr(
        cross_validation,
        "cross_validate_thresholds",
        lambda probs, labels, choice, folds, seed: {"cv_f1_macro": estimates[choice]},
    )
    thresholds, evidence = choose_thresholds(scores, labels, "auto", folds=5, seed=1)
    assert evidence["chosen"] == better
    tuned, per_label = evidence["thresholds"]["tuned"], evidence["thresholds"]["per_label"]
    assert per_label[0] == 0.5 and tuned[0] != 0.5 and per_label[1] == tuned[1]
    assert thresholds.tolist() == (tuned if better == "tuned" else per_label)
    # Asked for explicitly, a way is shipped whatever the estimates say.
    other = "per_label" if better == "tuned" else "tuned"
    assert choose_thresholds(scores, labels, other, folds=5, seed=1)[1]["chosen"] == other
    with pytest.raises(InvalidInput, match="threshold_choice"):
        choose_thresholds(scores, labels, "always")


def test_folds_are_stratified_seeded_and_cover_every_row():
    rng = np.random.default_rng(8)
    labels = np.zeros((500, 3), dtype=np.int8)
    labels[rng.choice(500, 25, replace=False), 2] = 1  # a rare label: 5 positives per fold expected
    labels[:, 0] = rng.random(500) < 0.5
    fold = fold_index(labels, folds=5, seed=4)
    assert sorted(np.bincount(fold).tolist()) == [100] * 5
    assert all(labels[fold == k, 2].sum() == 5 for k in range(5))
    assert np.array_equal(fold, fold_index(labels, folds=5, seed=4))
    with pytest.raises(InvalidInput, match="at least 10 rows"):
        fold_index(labels[:6], folds=5)


def test_cv_of_the_whole_selection_holds_each_fold_out_of_every_choice():
    # Noisy, overlapping scores: weights and thresholds chosen on all rows score those rows clearly
    # better than rows they never saw. A selection that leaked the held-out fold into its choices would
    # score like the in-sample figure.
    rng = np.random.default_rng(0)
    labels = (rng.random((300, 4)) < 0.15).astype(np.int8)
    members = [labels * 0.25 + rng.random((300, 4)), labels * 0.15 + rng.random((300, 4))]
    _, in_sample, _ = choose_weights(members, labels)
    cv = cross_validate_selection(members, labels, "tuned", folds=4, seed=0)
    assert in_sample - cv["cv_f1_macro"] > 0.02, (in_sample, cv["cv_f1_macro"])
    fold = fold_index(labels, 4, 0)
    assert len(cv["cv_f1_macro_per_fold"]) == 4
    # Each fold's weights are the ones chosen without its rows.
    for k, weights in enumerate(cv["fold_weights"]):
        expected, _, _ = choose_weights([m[fold != k] for m in members], labels[fold != k])
        assert weights == pytest.approx(expected.tolist())


# --- calibration --------------------------------------------------------------------------------------


def test_ece_is_small_for_calibrated_scores_and_large_for_overconfident_ones():
    rng = np.random.default_rng(10)
    scores = rng.random(20_000)
    labels = (rng.random(20_000) < scores).astype(np.int8)  # a score of s is right s of the time
    assert expected_calibration_error(scores, labels) < 0.02
    overconfident = np.where(scores > 0.5, 1 - (1 - scores) / 4, scores / 4)
    assert expected_calibration_error(overconfident, labels) > 0.1


def test_temperature_is_recovered_and_one_leaves_scores_untouched():
    rng = np.random.default_rng(11)
    logits = rng.normal(0, 2, (5000, 4))
    labels = (rng.random((5000, 4)) < 1 / (1 + np.exp(-logits))).astype(np.int8)
    sharpened = 1 / (1 + np.exp(-3 * logits))  # logits three times too large
    temperature = fit_temperature(sharpened, labels)
    assert temperature == pytest.approx(3.0, rel=0.1)
    calibrated = apply_temperature(sharpened, temperature)
    assert expected_calibration_error(calibrated, labels) < expected_calibration_error(sharpened, labels) / 2
    assert np.array_equal(apply_temperature(sharpened, 1.0), sharpened)
    # A temperature keeps each label's ranking of the rows.
    order = np.argsort(sharpened[:, 0], kind="stable")
    assert np.all(np.diff(calibrated[order, 0]) >= 0)


def test_ensemble_json_refuses_a_temperature_that_is_not_positive():
    spec = {
        "labels": ["a"],
        "members": [{"name": "m", "path": "m", "weight": 1.0, "temperature": 0.0}],
        "objective": "f1_macro_tuned",
        "objective_value": 0.5,
    }
    for bad in (0.0, -1.0, float("inf"), None, "2"):
        spec["members"][0]["temperature"] = bad
        with pytest.raises(InvalidInput, match="temperatures must be finite numbers > 0"):
            EnsembleSpec.from_dict(spec)


# --- errors a person can read ------------------------------------------------------------------------


def test_error_rows_list_the_most_confident_mistakes_first(tmp_path):
    probs = np.array([[0.9, 0.1], [0.7, 0.2], [0.2, 0.8], [0.4, 0.3], [0.05, 0.6], [0.6, 0.9]])
    gold = np.array([[0, 0], [0, 1], [1, 1], [1, 0], [1, 1], [1, 1]])
    ids = np.array([10, 11, 12, 13, 14, 15])
    texts = {10: "첫째\t탭", 11: 'a "quoted" one', 12: "c", 13: "줄\n바꿈", 14: "e", 15: "f"}
    rows = error_rows(probs, gold, [0.5, 0.5], ids, ["x", "y"], texts, per_label=5)
    x = [(r["error"], r["id"]) for r in rows if r["label"] == "x"]
    # Label x: false positives 10 (0.9) then 11 (0.7); false negatives lowest score first: 14, 12, 13.
    assert x == [("false positive", 10), ("false positive", 11)] + [
        ("false negative", i) for i in (14, 12, 13)
    ]
    assert [r["id"] for r in rows if r["label"] == "y"] == [11]
    assert rows[0]["gold"] == "" and rows[0]["predicted"] == "x"
    assert len(error_rows(probs, gold, [0.5, 0.5], ids, ["x", "y"], texts, per_label=1)) == 3
    path = write_errors_tsv(tmp_path / "errors.tsv", rows)
    with path.open(encoding="utf-8", newline="") as handle:
        read = list(csv.DictReader(handle, delimiter="\t"))
    assert len(read) == len(rows) and {r["text"] for r in read} >= {"첫째 탭", 'a "quoted" one', "줄 바꿈"}


def test_label_confusion_counts_wrong_flags_per_gold_label():
    gold = np.array([[1, 0, 0], [1, 0, 0], [0, 1, 0], [1, 1, 0]])
    pred = np.array([[1, 1, 0], [0, 1, 1], [0, 1, 0], [1, 1, 1]])
    confusion = label_confusion(pred, gold)
    # Gold label 0 (3 comments): recall 2/3; label 1 wrongly flagged on 2 of them; label 2 on 2.
    assert confusion["rate"][0].tolist() == pytest.approx([2 / 3, 2 / 3, 2 / 3])
    # Gold label 1 (2 comments): recall 1; label 0 is gold on one of them, never wrongly flagged.
    assert confusion["rate"][1].tolist() == pytest.approx([0.0, 1.0, 0.5])
    assert confusion["rate"][2].tolist() == [0.0, 0.0, 0.0]  # no gold comments: no rates
    assert confusion["gold_cooccurrence"][0, 1] == 1


# --- the pipeline's report ------------------------------------------------------------------------


def test_the_report_shows_intervals_cv_calibration_errors_and_korean_plots(pipeline_dir):
    report = pipeline_dir / "ensemble" / "report"
    metrics = json.loads((report / "test_metrics.json").read_text(encoding="utf-8"))
    ci_keys = [k for k in metrics if "ci" in k]
    cv_keys = [k for k in metrics if "cv" in k]
    assert "bootstrap_ci" in ci_keys and "val_cv" in cv_keys
    systems = metrics["bootstrap_ci"]["systems"]
    assert set(systems) == set(metrics["systems"])
    for name, result in metrics["systems"].items():
        low, high = systems[name]["f1_macro"]
        assert low <= result["f1_macro"] <= high
    # The ensemble's interval against a bootstrap computed here with scikit-learn on the same draws.
    from sklearn.metrics import f1_score

    from hf_trainer.metrics.uncertainty import resample_counts

    spec = EnsembleSpec.load(pipeline_dir / "ensemble")
    saved = [np.load(d / "predictions" / "test.npz") for d in spec.member_dirs(pipeline_dir / "ensemble")]
    flagged = (spec.mix([s["probs"] for s in saved]) >= np.asarray(spec.thresholds)).astype(int)
    gold = saved[0]["labels"].astype(int)
    counts = resample_counts(len(gold), metrics["bootstrap_ci"]["resamples"], metrics["bootstrap_ci"]["seed"])
    samples = [f1_score(gold, flagged, average="macro", sample_weight=c, zero_division=0) for c in counts]
    assert systems["ensemble tuned"]["f1_macro"] == pytest.approx(
        np.percentile(samples, [2.5, 97.5]), abs=1e-9
    )
    pairs = {(p["a"], p["b"]) for p in metrics["paired_bootstrap"]}
    assert ("ensemble tuned", "ensemble @0.5") in pairs and len(pairs) == 2
    estimates = metrics["val_cv"]["estimates"]
    assert set(estimates) == {"tuned", "per_label", "weights_and_thresholds"}
    spec = EnsembleSpec.load(pipeline_dir / "ensemble")
    evidence = spec.threshold_report["cv"]  # what the thresholds stage measured, before any test score
    text = (report / "report.md").read_text(encoding="utf-8")
    for key in ("tuned", "per_label", "weights_and_thresholds"):
        stored = evidence["cv"][key]["cv_f1_macro"]
        assert estimates[key]["val_cv"] == stored and 0 < stored < 1
        row = next(line for line in text.splitlines() if line.startswith(f"| {CV_ROWS[key]} |"))
        assert row.split("|")[3].strip() == f"{stored:.4f}", row
    assert estimates[evidence["chosen"]]["shipped"] and metrics["val_cv"]["folds"] == evidence["folds"] == 5
    shipped = estimates["weights_and_thresholds"]
    assert shipped["val_in_sample"] == pytest.approx(spec.threshold_report["val_f1_macro_tuned"], abs=1e-12)
    assert shipped["test"] == pytest.approx(metrics["systems"]["ensemble tuned"]["f1_macro"], abs=1e-12)
    assert metrics["published_lrap"]["lrap"] == 0.892 and "lrap" in metrics["systems"]["ensemble tuned"]
    # The per-label table and LRAP against scikit-learn, from the members' saved test scores.
    from sklearn.metrics import classification_report, label_ranking_average_precision_score

    saved = [np.load(d / "predictions" / "test.npz") for d in spec.member_dirs(pipeline_dir / "ensemble")]
    mixed, gold = spec.mix([s["probs"] for s in saved]), saved[0]["labels"]
    flagged = (mixed >= np.asarray(spec.thresholds)).astype(int)
    expected = classification_report(
        gold, flagged, target_names=spec.labels, output_dict=True, zero_division=0
    )
    for name in [*spec.labels, "micro avg", "macro avg"]:
        for key in ("precision", "recall", "f1-score", "support"):
            assert metrics["classification_report"][name][key] == pytest.approx(expected[name][key]), (
                name,
                key,
            )
    lrap = label_ranking_average_precision_score(gold, mixed)
    assert metrics["systems"]["ensemble tuned"]["lrap"] == pytest.approx(lrap)
    best = max(spec.members, key=lambda m: m["val_f1_macro_tuned"])["name"]
    assert ("ensemble tuned", f"{best} tuned") in pairs  # against its best member by val
    assert set(metrics["calibration"]["systems"]) == {*PIPELINE_MEMBERS, "ensemble"}
    for heading in (
        "Are the differences real?",
        "Validation estimates beside the test figure",
        "Calibration",
    ):
        assert f"## {heading}" in text
    for pair in metrics["paired_bootstrap"]:
        row = next(line for line in text.splitlines() if line.startswith(f"| {pair['a']} - {pair['b']} |"))
        assert ("inside the noise" in row) == pair["inside_noise"] == (pair["ci"][0] <= 0 <= pair["ci"][1])
    assert "| 0.892 |" in text and "not ours" in text and "arXiv:2204.03262" in text
    assert "| KcBERT baseline (published) | 0.76 |" in text
    members = {m["name"]: m for m in metrics["members"]["members"]}
    assert set(members) == set(PIPELINE_MEMBERS)
    for entry in spec.members:
        removal = members[entry["name"]]["removal"]
        assert members[entry["name"]]["weight"] == entry["weight"] and removal["member"] == entry["name"]
        row = next(line for line in text.splitlines() if line.startswith(f"| {entry['name']} | "))
        assert f"{removal['difference']:+.4f}" in row
        assert (
            ("removal changes nothing" in row)
            == removal["changes_nothing"]
            == (removal["ci"][0] <= 0 <= removal["ci"][1])
        )
    reliability = sorted(p.name for p in report.glob("*reliability*.png"))
    assert reliability == sorted(f"reliability_{n}.png" for n in [*PIPELINE_MEMBERS, "ensemble"])
    assert (report / "label_confusion.png").read_bytes()[:4] == b"\x89PNG"
    with (report / "errors.tsv").open(encoding="utf-8", newline="") as handle:
        errors = list(csv.DictReader(handle, delimiter="\t"))
    assert errors and metrics["errors_have_texts"] and all(r["text"] for r in errors)
    assert {r["label"] for r in errors} <= set(UNSMILE_LABELS)
    assert all(int(r["rank"]) <= 20 for r in errors)
    # The spans behind each listed error: pieces of its own text, signed as the error says.
    explained = [r for r in errors if r["spans"]]
    assert explained, "no errors.tsv row got spans"
    for row in explained:
        for part in row["spans"].split("; "):
            piece, weight = part.rsplit(" (", 1)
            assert piece in row["text"] and (weight.startswith("+") == (row["error"] == "false positive"))


def test_plots_use_a_hangul_font_and_say_so_when_there_is_none(monkeypatch, caplog, tmp_path):
    from matplotlib import font_manager
    from matplotlib.ft2font import FT2Font

    from hf_trainer.evaluation import plots

    plots.hangul_font.cache_clear()
    assert plots.hangul_font() is not None  # the koreanize-matplotlib wheel's NanumGothic at least
    # The font matplotlib actually draws a Korean tick label with has the label's glyphs.
    drawn = {}
    monkeypatch.setattr(plots, "save_figure", lambda fig, path, dpi: drawn.setdefault("fig", fig))
    plots.plot_confusion(tmp_path / "c.png", np.eye(len(UNSMILE_LABELS)), UNSMILE_LABELS)
    ticks = drawn["fig"].axes[0].get_yticklabels()
    assert [t.get_text() for t in ticks] == list(UNSMILE_LABELS)
    for tick in ticks[:2]:
        path = font_manager.findfont(tick.get_fontproperties(), fallback_to_default=False)
        font = FT2Font(path)
        assert all(font.get_char_index(ord(c)) for c in tick.get_text() if c != "/"), (path, tick.get_text())
    plots.hangul_font.cache_clear()
    monkeypatch.setattr(plots, "HANGUL_FONTS", ())
    monkeypatch.setattr(plots.importlib.util, "find_spec", lambda name: None)
    with caplog.at_level(logging.WARNING, logger="hf_trainer.evaluation.plots"):
        assert plots.hangul_font() is None
    assert [r.message for r in caplog.records if "Hangul" in r.message][0].count("\n") == 0
    assert plots._display_labels(["기타 혐오"], hangul=False) == ["other hate"]
    plots.hangul_font.cache_clear()


def test_temperature_scaling_runs_through_thresholds_report_and_inference(pipeline_dir, tmp_path):
    members = [str(pipeline_dir / m) for m in PIPELINE_MEMBERS]
    folder = tmp_path / "calibrated"
    spec = load_recipe("ensemble").main(
        ["--members", *members, "--output_dir", str(folder), "--calibrate", "temperature"]
    )
    assert all(t != 1.0 for t in spec.temperatures)
    spec = load_recipe("thresholds").main(["--ensemble_dir", str(folder)])
    result = load_recipe("evaluate_test").main(["--ensemble_dir", str(folder)])
    # Thresholds were chosen, and the test split scored, on the calibrated mixture.
    val = load_aligned(spec.member_dirs(folder), "val")
    tuned_on = multilabel_metrics(
        spec.mix([m.probs for m in val]), val[0].references, spec.labels, spec.thresholds
    )
    assert tuned_on["f1_macro"] == spec.threshold_report["val_f1_macro_tuned"]
    assert result["temperatures"] == dict(zip(PIPELINE_MEMBERS, spec.temperatures, strict=True))
    first = next(iter(PIPELINE_MEMBERS))
    assert {"val calibrated", "test calibrated"} <= set(result["calibration"]["systems"][first])
    assert "divides each member's logits by its temperature" in (folder / "report" / "report.md").read_text(
        encoding="utf-8"
    )
    # Inference applies the temperatures before mixing, exactly as the test evaluation did.
    test = load_aligned(spec.member_dirs(folder), "test")
    ensemble = Ensemble.from_pretrained(str(folder), device="cpu")
    from hf_trainer.data.labels import LabelSchema
    from hf_trainer.data.loading import read_labelled_tsv
    from tests.helpers import DEMO_TEST

    texts = read_labelled_tsv(DEMO_TEST, LabelSchema()).texts
    rows = [int(i) for i in test[0].ids[:4]]
    scored = multilabel_metrics(
        spec.mix([m.probs for m in test]), test[0].references, spec.labels, spec.thresholds
    )
    assert scored == result["systems"]["ensemble tuned"]
    expected = spec.mix([m.probs for m in test])[:4]
    assert np.allclose(ensemble.predict_proba([texts[i] for i in rows]), expected, atol=1e-5)
    members_at_one = [{**m, "temperature": 1.0} for m in spec.members]
    plain = EnsembleSpec.from_dict({**spec.to_dict(), "members": members_at_one})
    assert not np.allclose(expected, plain.mix([m.probs for m in test])[:4], atol=1e-3)


def test_a_crash_after_scoring_still_counts_the_evaluation(pipeline_dir, tmp_path, monkeypatch):
    from hf_trainer.evaluation.test_once import RescoreRefused, read_history

    folder = tmp_path / "ensemble"
    members = [str(pipeline_dir / m) for m in PIPELINE_MEMBERS]
    load_recipe("ensemble").main(["--members", *members, "--output_dir", str(folder)])
    load_recipe("thresholds").main(["--ensemble_dir", str(folder)])
    evaluate = load_recipe("evaluate_test")

    def broken_plot(*args, **kwargs):
        raise OSError("the disk filled up while drawing")

    monkeypatch.setattr(evaluate, "plot_confusion", broken_plot)
    with pytest.raises(OSError, match="disk filled up"):
        evaluate.main(["--ensemble_dir", str(folder)])
    assert read_history(folder)["count"] == 1  # the test split was scored: that counts
    with pytest.raises(RescoreRefused):
        evaluate.main(["--ensemble_dir", str(folder)])


def test_texts_are_read_only_from_the_data_the_members_were_trained_on(pipeline_dir, tmp_path, caplog):
    import shutil

    from hf_trainer.data.preparation import split_texts
    from tests.helpers import DEMO_TEST, DEMO_TRAIN

    member = tmp_path / "member"
    member.mkdir()
    run_config = json.loads((pipeline_dir / "tiny-bert" / "run_config.json").read_text(encoding="utf-8"))
    files = {}
    for key, source in (("train_file", DEMO_TRAIN), ("test_file", DEMO_TEST)):
        copy = tmp_path / source.name
        shutil.copyfile(source, copy)
        assert run_config["data"][key] == str(source)
        run_config["data"][key] = str(copy)
        files[str(copy)] = run_config["data_source"]["files"][str(source)]
    run_config["data_source"] = {"files": files}
    (member / "run_config.json").write_text(json.dumps(run_config), encoding="utf-8")
    texts = split_texts([member], "test")
    assert texts == split_texts([pipeline_dir / "tiny-bert"], "test") and len(texts) == 150
    # One comment edited after training: the row ids would now name other texts.
    test_copy = tmp_path / DEMO_TEST.name
    lines = test_copy.read_text(encoding="utf-8").split("\n")
    lines[3] = "바뀐 댓글" + lines[3][lines[3].index("\t") :]
    test_copy.write_text("\n".join(lines), encoding="utf-8")
    with caplog.at_level(logging.WARNING, logger="hf_trainer.evaluation.error_analysis"):
        assert split_texts([member], "test") is None
    message = next(
        r.getMessage() for r in caplog.records if "not what the members were trained on" in r.getMessage()
    )
    assert f"{test_copy} changed since training" in message and str(tmp_path / DEMO_TRAIN.name) not in message
    test_copy.unlink()
    assert split_texts([member], "test") is None and f"{test_copy} is gone" in caplog.text
