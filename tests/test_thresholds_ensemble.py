from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import f1_score, precision_recall_fscore_support

from hf_trainer.metrics.multilabel import multilabel_metrics
from hf_trainer.selection.ensemble import EnsembleSpec
from hf_trainer.selection.thresholds import best_threshold, tune_thresholds, tuned_macro_f1
from hf_trainer.selection.weight_search import (
    choose_weights,
    combine,
    optimise_weights,
    removal_effects,
    score,
    simplex_grid,
)
from hf_trainer.training.predictions import MemberPredictions, check_aligned


def brute_force_f1(scores, labels):
    candidates = np.r_[np.unique(scores), np.inf]
    return max(f1_score(labels, scores >= t, zero_division=0) for t in candidates)


@pytest.mark.parametrize("seed", range(12))
def test_threshold_search_matches_brute_force(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(5, 60))
    labels = (rng.random(n) < rng.uniform(0.1, 0.6)).astype(int)
    labels[0] = 1
    scores = np.round(rng.random(n) * 0.5 + labels * rng.uniform(0, 0.5), 2)  # ties on purpose
    threshold, f1 = best_threshold(scores, labels)
    assert f1 == pytest.approx(brute_force_f1(scores, labels))
    assert f1_score(labels, scores >= threshold, zero_division=0) == pytest.approx(f1)


def test_threshold_sits_between_scores_and_label_without_positives_keeps_default():
    threshold, f1 = best_threshold(np.array([0.9, 0.8, 0.3, 0.2]), np.array([1, 1, 0, 0]))
    assert f1 == 1.0 and threshold == pytest.approx(0.55)
    assert best_threshold(np.array([0.9, 0.1]), np.array([0, 0])) == (0.5, 0.0)


def test_tuned_thresholds_give_macro_f1_of_the_metric_module():
    rng = np.random.default_rng(3)
    labels = (rng.random((300, 4)) < 0.3).astype(np.float32)
    probs = np.clip(labels * 0.3 + rng.random((300, 4)) * 0.7, 0, 1)
    thresholds, per_label = tune_thresholds(probs, labels)
    module = multilabel_metrics(probs, labels, list("abcd"), thresholds)
    assert module["f1_macro"] == pytest.approx(per_label.mean())
    assert module["f1_macro"] > multilabel_metrics(probs, labels, list("abcd"), 0.5)["f1_macro"]


def test_metric_module_against_scikit_learn():
    rng = np.random.default_rng(0)
    y = (rng.random((200, 5)) < 0.3).astype(int)
    p = rng.random((200, 5))
    pred = (p >= 0.5).astype(int)
    result = multilabel_metrics(p, y, list("abcde"))
    for average in ("macro", "micro", "weighted", "samples"):
        assert result[f"f1_{average}"] == pytest.approx(f1_score(y, pred, average=average, zero_division=0))
    precision, recall, f1, support = precision_recall_fscore_support(y, pred, zero_division=0)
    assert [result["per_label"][k]["recall"] for k in "abcde"] == pytest.approx(recall.tolist())
    assert [result["per_label"][k]["support"] for k in "abcde"] == support.tolist()
    assert result["hamming_loss"] == pytest.approx((pred != y).mean())
    assert result["exact_match"] == pytest.approx((pred == y).all(axis=1).mean())
    assert 0.4 < result["roc_auc_macro"] < 0.6  # random scores


def test_simplex_grid_points_sum_to_one():
    grid = simplex_grid(3, 4)
    assert len(grid) == 15 and np.allclose(grid.sum(axis=1), 1) and (grid >= 0).all()


def test_weights_find_the_informative_member():
    rng = np.random.default_rng(1)
    labels = (rng.random((400, 3)) < 0.3).astype(np.float32)
    good = np.clip(labels * 0.6 + rng.random((400, 3)) * 0.4, 0, 1)
    noise = [rng.random((400, 3)) for _ in range(2)]
    members = [noise[0], good, noise[1]]
    weights, value = optimise_weights(members, labels)
    assert weights.sum() == pytest.approx(1) and weights.argmax() == 1 and weights[1] >= 0.6
    assert value == pytest.approx(tuned_macro_f1(combine(members, weights), labels))
    single, single_value = optimise_weights([good], labels)
    assert single.tolist() == [1.0] and single_value == pytest.approx(tuned_macro_f1(good, labels))
    log_weights, _ = optimise_weights(members, labels, "logloss")
    assert log_weights.argmax() == 1


def test_weight_search_reaches_the_best_of_an_independent_fine_grid():
    # Three informative members of different strength: the optimum is inside the simplex and the
    # search's coarse 1/20 grid alone falls about 0.005 short of it; an exhaustive 1/100 grid
    # (5151 points) is the reference.
    rng = np.random.default_rng(0)
    labels = (rng.random((400, 3)) < 0.3).astype(np.float32)
    members = [labels * strength + rng.random((400, 3)) for strength in (0.5, 0.4, 0.25)]
    weights, value = optimise_weights(members, labels)
    assert value == pytest.approx(tuned_macro_f1(combine(members, weights), labels))
    grid = simplex_grid(3, 100)
    assert len(grid) == 5151
    fine = np.array([tuned_macro_f1(combine(members, w), labels) for w in grid])
    assert value >= fine.max() - 1e-3, (weights, value, grid[fine.argmax()], fine.max())
    assert fine.max() > tuned_macro_f1(combine(members, [1 / 3] * 3), labels) + 5e-3  # weights matter here


@pytest.mark.parametrize("objective", ["f1_macro_tuned", "logloss"])
def test_equal_scores_go_to_the_weights_closest_to_uniform(objective):
    rng = np.random.default_rng(4)
    labels = (rng.random((200, 3)) < 0.3).astype(np.float32)
    p = np.clip(labels * 0.3 + rng.random((200, 3)) * 0.7, 0.01, 0.99)
    for n in (2, 3):  # identical members: every weight vector scores the same
        weights, value = optimise_weights([p] * n, labels, objective)
        assert weights == pytest.approx(np.full(n, 1 / n), abs=1e-12), (n, weights)
        assert value == pytest.approx(score(p, labels, objective), abs=1e-9)
    if objective == "f1_macro_tuned":
        # Different members, equal scores: any mix of increasing functions of p ranks the rows as p
        # does, so every weight vector gets the same tuned thresholds F1.
        weights, _ = optimise_weights([p, p**2, np.sqrt(p)], labels, objective)
        assert weights == pytest.approx(np.full(3, 1 / 3), abs=1e-12)


def test_a_member_without_information_gets_no_weight_and_is_flagged():
    # A member whose scores are the same for every comment only shifts the others' scores; tuned
    # thresholds follow the shift, so every weight below 1 on it scores the same. The plain search
    # then goes to the weights closest to uniform (half on a useless member); the choice must not.
    rng = np.random.default_rng(5)
    labels = (rng.random((600, 4)) < 0.3).astype(np.float32)
    good = np.clip(labels * 0.5 + rng.random((600, 4)) * 0.5, 0, 1)
    weak = np.clip(labels * 0.05 + rng.random((600, 4)) * 0.95, 0, 1)  # barely informative
    constant = np.full((600, 4), 0.3)
    best, _ = optimise_weights([constant, good], labels)
    assert best == pytest.approx([0.5, 0.5])  # the indifference the choice corrects
    chosen, value, report = choose_weights([constant, good], labels)
    assert chosen.tolist() == [0.0, 1.0]
    assert value == pytest.approx(tuned_macro_f1(good, labels))
    assert report["candidates_checked"] >= 1 and report["chosen"]["weak_member_penalty"] == 0.0
    # With a barely informative member, the chosen mix is inside the noise of the best and leans less
    # on the weak member.
    chosen, value, report = choose_weights([weak, good], labels)
    assert chosen[0] <= report["best"]["weights"][0] and value <= report["best"]["value"]
    assert report["chosen"]["weak_member_penalty"] <= report["best"]["weak_member_penalty"]
    effects = {
        e["member"]: e for e in removal_effects([constant, good], [0.5, 0.5], labels, ["constant", "good"])
    }
    assert effects["constant"]["difference"] == 0.0 and effects["constant"]["changes_nothing"]
    assert effects["good"]["difference"] < -0.1 and not effects["good"]["changes_nothing"]
    assert effects["good"]["ci"][1] < 0


def test_weights_the_rows_can_tell_apart_stay_the_best():
    # Two members each informative on different labels: the mix beats either member clearly, and the
    # choice keeps a mix inside the noise of the best (no member dropped).
    rng = np.random.default_rng(6)
    labels = (rng.random((800, 4)) < 0.3).astype(np.float32)
    signal = np.array([1.0, 1.0, 0.0, 0.0])
    a = np.clip(labels * 0.6 * signal + rng.random((800, 4)) * 0.5, 0, 1)
    b = np.clip(labels * 0.6 * signal[::-1] + rng.random((800, 4)) * 0.5, 0, 1)
    chosen, value, report = choose_weights([a, b], labels)
    assert 0.2 <= chosen[0] <= 0.8, chosen
    assert value > max(tuned_macro_f1(a, labels), tuned_macro_f1(b, labels)) + 0.1
    assert all(not e["changes_nothing"] for e in removal_effects([a, b], chosen, labels, ["a", "b"]))


def _member(tmp_path, name, ids, labels, names=("a", "b")):
    folder = tmp_path / name / "predictions"
    folder.mkdir(parents=True)
    np.savez(
        folder / "val.npz",
        probs=np.full((len(ids), len(names)), 0.5, np.float32),
        labels=np.asarray(labels, np.float32),
        ids=np.asarray(ids),
        label_names=np.asarray(names),
    )
    return MemberPredictions.load(tmp_path / name, "val")


def test_misaligned_members_are_refused(tmp_path):
    a = _member(tmp_path, "a", [0, 1, 2], [[1, 0], [0, 1], [0, 0]])
    b = _member(tmp_path, "b", [0, 2, 1], [[1, 0], [0, 0], [0, 1]])
    c = _member(tmp_path, "c", [0, 1, 2], [[1, 0], [0, 1], [0, 0]], names=("a", "x"))
    d = _member(tmp_path, "d", [0, 1, 2], [[1, 0], [0, 1], [0, 1]])  # same rows, row 2 labelled otherwise
    check_aligned([a, _member(tmp_path, "a2", [0, 1, 2], [[1, 0], [0, 1], [0, 0]])])  # aligned: accepted
    with pytest.raises(ValueError, match="row ids differ"):
        check_aligned([a, b])
    with pytest.raises(ValueError, match="label names differ"):
        check_aligned([a, c])
    with pytest.raises(ValueError, match="reference labels differ for the same row ids"):
        check_aligned([a, d])
    with pytest.raises(FileNotFoundError, match="train this member first"):
        MemberPredictions.load(tmp_path / "nope", "val")


@pytest.mark.parametrize(
    "change, message",
    [
        (
            {
                "members": [
                    {"name": "a", "path": "a", "weight": 0.7},
                    {"name": "b", "path": "b", "weight": 0.7},
                ]
            },
            "sum to 1",
        ),
        ({"thresholds": [0.5]}, "1 thresholds for 2 labels"),
        ({"members": [{"name": "a", "weight": 1.0}]}, "'path' or 'hub_id'"),
        (
            {
                "members": [
                    {"name": "a", "path": "a", "weight": 0.5},
                    {"name": "a", "path": "b", "weight": 0.5},
                ]
            },
            "a 'name' of its own",
        ),
        ({"members": [{"path": "a", "weight": 1.0}]}, "a 'name' of its own"),
        ({"format_version": 9}, "format_version"),
    ],
)
def test_ensemble_json_is_validated(change, message):
    data = {
        "labels": ["a", "b"],
        "members": [{"name": "a", "path": "a", "weight": 1.0}],
        "objective": "x",
        "objective_value": 0.5,
    } | change
    with pytest.raises(ValueError, match=message):
        EnsembleSpec.from_dict(data)
    with pytest.raises(ValueError, match="missing keys"):
        EnsembleSpec.from_dict({"labels": ["a"]})


def test_the_refinement_neighbourhood_is_the_filtered_fine_grid_in_its_order():
    from hf_trainer.selection.weight_search import simplex_grid, simplex_neighbourhood

    rng = np.random.default_rng(0)
    for members in (2, 3, 4):
        coarse, fine = simplex_grid(members, 10), simplex_grid(members, 50)
        for center in coarse[rng.choice(len(coarse), 10, replace=False)]:
            near = fine[np.all(np.abs(fine - center) <= 1.0 / 10 + 1e-9, axis=1)]
            assert np.array_equal(simplex_neighbourhood(center, 50, 5), near)


def test_ranking_metrics_see_score_differences_below_float32_precision():
    from hf_trainer.metrics.multilabel import multilabel_metrics

    # Saturated scores 1 - 1e-9 and 1 - 2e-9 are one float32 number: cast, the two labels would tie.
    probs = np.array([[1 - 1e-9, 1 - 2e-9], [1 - 2e-9, 1 - 1e-9]])
    labels = np.array([[1, 0], [0, 1]])
    result = multilabel_metrics(probs, labels, ["a", "b"])
    assert result["lrap"] == 1.0 and result["roc_auc_macro"] == 1.0


def test_the_local_evaluate_module_gives_the_figures_of_the_library_function():
    from hf_trainer.metrics.multilabel import compute_multilabel, load_metric

    rng = np.random.default_rng(5)
    scores = rng.random((40, 3))
    predictions, references = (scores >= 0.5).astype(np.int8), (rng.random((40, 3)) < 0.4).astype(np.int8)
    through_module = load_metric().compute(
        predictions=predictions, references=references, scores=scores, label_names=["a", "b", "c"]
    )
    direct = compute_multilabel(predictions, references, scores, ["a", "b", "c"])
    assert through_module == direct and 0 < direct["f1_macro"] < 1 and 0 < direct["lrap"] <= 1
