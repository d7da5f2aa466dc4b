"""The mention gate: the group-name list, a char n-gram member blind to it, the gate's arithmetic and
strength choice, and an ensemble with a gate through every recipe, inference and the reports."""

from __future__ import annotations

import json

import numpy as np
import pytest

from hf_trainer import Ensemble
from hf_trainer.data.group_names import (
    PLACEHOLDER,
    default_group_names,
    group_name_blinder,
    read_group_names,
)
from hf_trainer.data.labels import UNSMILE_HATE_LABELS, UNSMILE_LABELS
from hf_trainer.members.char_ngram import CharNgramMember, CharNgramSettings, fit_char_ngram
from hf_trainer.selection.cross_validation import choose_gate_strength, ungated_thresholds
from hf_trainer.selection.ensemble import EnsembleSpec
from hf_trainer.selection.mention_gate import GATE_STRENGTHS, apply_gate
from hf_trainer.selection.weight_search import combine
from hf_trainer.utils.errors import InvalidInput
from tests.helpers import CHAR_NGRAM_DATA, DEMO_TRAIN, load_recipe

LABELS = list(UNSMILE_LABELS)
CLEAN, ABUSE = LABELS.index("clean"), LABELS.index("악플/욕설")


def test_the_shipped_list_names_every_hate_labels_groups_and_no_slur():
    names = read_group_names()
    assert set(names.values()) == set(UNSMILE_HATE_LABELS) and tuple(names) == default_group_names()
    slurs = ("짱깨", "홍어", "틀딱", "한남", "김치녀", "개독", "쪽바리", "급식충", "똥꼬충", "맘충")
    assert not [term for term in names if any(slur in term for slur in slurs)]


@pytest.mark.parametrize(
    "content, where",
    [
        ("label\tword\n", "line 1"),
        ("label\tterm\n지역\t광주\n동물\t고양이\n", "line 3, column 1"),
        ("label\tterm\n지역\t광\n", "line 2, column 2"),
        ("label\tterm\n지역\t광주\n종교\t광주\n", "line 3, column 2"),
        ("label\tterm\n지역\t광주\textra\n", "line 2: 3 fields"),
    ],
)
def test_a_bad_group_name_file_names_its_line_and_column(write_tsv, content, where):
    path = write_tsv("names.tsv", content)
    with pytest.raises(InvalidInput, match=rf"names\.tsv, {where}"):
        read_group_names(path)


def test_blinding_replaces_the_longest_name_and_leaves_other_text_alone():
    blind = group_name_blinder(["전라도", "전라도 사람", "교회"])
    assert blind("전라도 사람들은 교회에 간다") == f"{PLACEHOLDER}들은 {PLACEHOLDER}에 간다"
    assert blind("오늘 날씨 좋다") == "오늘 날씨 좋다"
    assert group_name_blinder([])("전라도") == "전라도"


def _demo_rows(n: int = 400):
    lines = [line.split("\t") for line in DEMO_TRAIN.read_text(encoding="utf-8").split("\n")[1 : n + 1]]
    return [row[0] for row in lines], np.array([[float(v) for v in row[1:11]] for row in lines])


def test_a_blind_member_reads_two_group_names_alike_and_keeps_its_list_through_save_and_load(tmp_path):
    texts, labels = _demo_rows()
    names = ("광주", "부산", "교회")
    blind, _ = fit_char_ngram(texts, labels, LABELS, CharNgramSettings(blind_group_names=True), (2.0,),
                              blinded_names=names)  # fmt: skip
    seeing, _ = fit_char_ngram(texts, labels, LABELS, CharNgramSettings(), (2.0,))
    pair = ["광주 사람들 진짜 싫다", "부산 사람들 진짜 싫다"]
    assert np.allclose(*blind.predict_proba(pair))
    assert (blind.features(pair[:1]) != blind.features(pair[1:])).nnz == 0
    assert (seeing.features(pair[:1]) != seeing.features(pair[1:])).nnz > 0
    blind.save(tmp_path / "blind", "char-ngram-blind")
    loaded = CharNgramMember.load(tmp_path / "blind")
    assert loaded.blinded_names == names and loaded.settings.blind_group_names
    assert np.array_equal(loaded.predict_proba(pair), blind.predict_proba(pair))
    config = json.loads((tmp_path / "blind" / "char_ngram.json").read_text(encoding="utf-8"))
    (tmp_path / "blind" / "char_ngram.json").write_text(json.dumps(config | {"blinded_names": []}))
    with pytest.raises(InvalidInput, match="no names to blind"):
        CharNgramMember.load(tmp_path / "blind")


def test_the_gate_silences_hate_labels_where_the_gate_member_sees_no_hate():
    rng = np.random.default_rng(0)
    mixed = rng.random((3, len(LABELS)))
    gate = np.full((3, len(LABELS)), 0.5)
    gate[:, CLEAN] = [1.0, 0.0, 0.75]  # no hate seen, certain hate, in between
    gated = apply_gate(mixed, gate, 0.5, LABELS)
    hate = [LABELS.index(n) for n in UNSMILE_HATE_LABELS]
    assert np.all(gated[0, hate] == 0) and gated[0, CLEAN] == 1.0
    assert np.array_equal(gated[1], mixed[1])
    assert np.allclose(gated[2, hate], mixed[2, hate] * 0.5) and gated[2, CLEAN] == max(mixed[2, CLEAN], 0.75)
    assert np.array_equal(gated[:, ABUSE], mixed[:, ABUSE])  # abuse is not about a group's name
    assert np.array_equal(apply_gate(mixed, gate, 0, LABELS), mixed)
    with pytest.raises(InvalidInput, match="needs a 'clean' label"):
        apply_gate(mixed[:, :9], gate[:, :9], 0.5, LABELS[:9])


def _mentions(n: int, seed: int, informative: bool):
    """Hateful rows and clean rows that the ensemble scores alike (a group's name in both); the gate
    member tells them apart when informative, and is noise otherwise."""
    rng = np.random.default_rng(seed)
    labels = np.zeros((n, len(LABELS)), dtype=np.float32)
    hateful = rng.random(n) < 0.5
    labels[hateful, 3] = 1
    labels[~hateful, CLEAN] = 1
    labels[:, 5] = rng.random(n) < 0.2  # another label the gate leaves to the ensemble
    mixed = np.clip(labels * 0.5 + rng.random(labels.shape) * 0.5, 0, 1)
    mixed[:, 3] = rng.uniform(0.6, 1.0, n)  # the name alone: both kinds score high
    mixed[:, CLEAN] = rng.uniform(0.0, 0.4, n)
    gate = rng.random(labels.shape)
    if informative:
        gate[:, CLEAN] = np.where(hateful, rng.uniform(0.0, 0.3, n), rng.uniform(0.7, 1.0, n))
    return mixed, gate, labels


def test_the_strength_is_the_strongest_that_keeps_f1_and_flags_fewer_clean_rows():
    mixed, gate, labels = _mentions(600, 1, informative=True)
    strength, choice = choose_gate_strength(mixed, gate, labels, LABELS)
    ungated, tried = choice["ungated"], choice["tried"]
    assert strength > 0 and tried[str(strength)]["cv_f1_macro"] > ungated["cv_f1_macro"]
    assert tried[str(strength)]["clean_rows_flagged"] < ungated["clean_rows_flagged"]
    for s in GATE_STRENGTHS:  # every stronger gate broke a rule
        if s > strength:
            assert (tried[str(s)]["cv_f1_macro"] < ungated["cv_f1_macro"] - 0.005
                    or tried[str(s)]["flagged_change_ci"][1] >= 0)  # fmt: skip


@pytest.mark.parametrize("seed", [2, 3, 4])
def test_a_gate_that_carries_no_information_is_not_shipped(seed):
    mixed, gate, labels = _mentions(600, seed, informative=False)
    strength, choice = choose_gate_strength(mixed, gate, labels, LABELS)
    assert strength == 0.0 and choice["strength"] == 0.0


def test_validation_without_a_clean_row_gives_no_gate_and_says_why(caplog):
    mixed, gate, labels = _mentions(300, 5, informative=True)
    hateful = labels[:, CLEAN] == 0
    with caplog.at_level("WARNING"):
        strength, choice = choose_gate_strength(mixed[hateful], gate[hateful], labels[hateful], LABELS)
    assert strength == 0.0 and choice["clean_rows"] == 0 and choice["tried"] == {}
    assert "No clean row in the validation split" in caplog.text


def _spec(weights, gate=None):
    return EnsembleSpec(
        labels=LABELS,
        members=[{"name": f"m{i}", "path": f"m{i}", "weight": w} for i, w in enumerate(weights)],
        objective="f1_macro_tuned",
        objective_value=0.5,
        gate=gate,
    )


def test_ensemble_json_refuses_a_gate_it_cannot_apply():
    for gate, message in (
        ({"member": "m9", "strength": 0.2}, "must name one of the members"),
        ({"member": "m0", "strength": 0.2}, "must have weight 0"),
        ({"member": "m1", "strength": -1}, "finite number >= 0"),
    ):
        with pytest.raises(InvalidInput, match=message):
            _spec([1.0, 0.0], gate).validate()
    rng = np.random.default_rng(3)
    probs = [rng.random((5, len(LABELS))) for _ in range(2)]
    spec = _spec([1.0, 0.0], {"member": "m1", "strength": 0.3})
    assert np.array_equal(spec.mix(probs), apply_gate(probs[0], probs[1], 0.3, LABELS))
    assert np.array_equal(spec.mix(probs, gated=False), combine(probs, [1.0, 0.0]))
    # A gate of strength 0 stays on record but changes nothing: no "ensemble without the gate" beside it.
    off = _spec([1.0, 0.0], {"member": "m1", "strength": 0.0})
    assert (
        spec.gate_acts and not off.gate_acts and np.array_equal(off.mix(probs), off.mix(probs, gated=False))
    )
    assert ungated_thresholds(off, []) is None


def test_a_gated_ensemble_json_is_format_2_and_an_old_one_loads_without_a_gate(tmp_path):
    spec = _spec([1.0, 0.0], {"member": "m1", "strength": 0.3})
    spec.save(tmp_path)
    data = json.loads((tmp_path / "ensemble.json").read_text(encoding="utf-8"))
    assert data["format_version"] == 2 and EnsembleSpec.load(tmp_path).gate == spec.gate
    (tmp_path / "ensemble.json").write_text(json.dumps(data | {"format_version": 1}))
    with pytest.raises(InvalidInput, match="format_version 2 goes with a 'gate'"):
        EnsembleSpec.load(tmp_path)
    old = {k: v for k, v in data.items() if k not in ("gate", "format_version")}
    (tmp_path / "ensemble.json").write_text(
        json.dumps(old | {"members": [dict(m, weight=0.5) for m in old["members"]]})
    )
    loaded = EnsembleSpec.load(tmp_path)
    assert loaded.gate is None and loaded.gate_index is None
    assert np.array_equal(loaded.mix([np.ones((2, 10)), np.zeros((2, 10))]), np.full((2, 10), 0.5))


@pytest.fixture(scope="module")
def gated(mixed, pipeline_dir, tmp_path_factory):
    """A tiny transformer and the shared char n-gram member, with a blind char n-gram member as the
    gate, through the ensemble, thresholds and test evaluation recipes."""
    root, _ = mixed
    out = tmp_path_factory.mktemp("gated")
    load_recipe("train").main(
        ["--model", "char-ngram-blind", *CHAR_NGRAM_DATA, "--output_dir", str(out / "char-ngram-blind")]
    )
    members = [str(pipeline_dir / "tiny-bert"), str(root / "char-ngram"), str(out / "char-ngram-blind")]
    load_recipe("ensemble").main(
        ["--members", *members, "--output_dir", str(out / "ensemble"), "--gate_member", "char-ngram-blind"]
    )
    spec = json.loads((out / "ensemble" / "ensemble.json").read_text(encoding="utf-8"))
    if spec["gate"]["strength"] == 0:  # whatever the tiny data chose: a gate that acts, for what follows
        spec["gate"]["strength"] = 0.5
        (out / "ensemble" / "ensemble.json").write_text(
            json.dumps(spec, ensure_ascii=False), encoding="utf-8"
        )
    load_recipe("thresholds").main(["--ensemble_dir", str(out / "ensemble")])
    report = load_recipe("evaluate_test").main(["--ensemble_dir", str(out / "ensemble")])
    return out / "ensemble", report


def test_an_ensemble_with_a_gate_chooses_it_on_val_and_reports_the_mix_without_it(gated):
    folder, report = gated
    spec = EnsembleSpec.load(folder)
    assert spec.gate["member"] == "char-ngram-blind" and spec.members[2]["weight"] == 0
    assert spec.weights[:2].sum() == pytest.approx(1.0)
    assert spec.gate["strength"] in (spec.gate["choice"]["strength"], 0.5)  # 0.5 where the fixture set it
    assert all(len(spec.weight_choice[k]["weights"]) == 3 for k in ("best", "chosen"))
    assert {e["member"] for e in spec.removal} == {
        "tiny-bert",
        "char-ngram",
    }  # the gate has no weight to remove
    selection = spec.threshold_report["cv"]["cv"]["weights_and_thresholds"]
    assert len(selection["fold_gate_strengths"]) == 5 and all(w[2] == 0 for w in selection["fold_weights"])
    systems = report["systems"]
    assert "ensemble without the gate tuned" in systems
    assert ("ensemble tuned", "ensemble without the gate tuned") in {
        (d["a"], d["b"]) for d in report["paired_bootstrap"]
    }
    text = (folder / "report" / "report.md").read_text(encoding="utf-8")
    assert "**Mention gate**: char-ngram-blind (weight 0)" in text
    from hf_trainer.hub.card import model_card

    card = model_card(spec, report, "org/x")
    assert (
        "- Mention gate: char-ngram-blind (weight 0) reads" in card
        and f"power {spec.gate['strength']:g}" in card
    )


def test_inference_runs_the_gate_member_and_mixes_as_the_recipes_did(gated):
    from hf_trainer.serving.app import model_panel

    folder, _ = gated
    ensemble = Ensemble.from_pretrained(str(folder))
    ensemble.spec.gate["strength"] = 1.0  # whatever the tiny data chose: a gate that acts
    texts = ["광주 날씨 어제 엄청 춥더라", "여자들은 다 꺼져라", "오늘 점심 맛있었다"]
    member_probs = [m.predict_proba(texts) for m in ensemble.members]
    expected = ensemble.spec.mix(member_probs)
    assert np.allclose(ensemble.predict_proba(texts), expected)
    # The gate member is run, not replaced by an idle 0.5 as other members of weight 0 are.
    assert not np.allclose(
        expected, ensemble.spec.mix([*member_probs[:2], np.full_like(member_probs[2], 0.5)])
    )
    assert "mention gate" in model_panel(ensemble, None)


def test_the_functional_suite_scores_the_ensemble_without_its_gate_too(gated):
    from hf_trainer.evaluation.functional import CASES_FILE, run_functional_tests

    folder, _ = gated
    cases = CASES_FILE.read_text(encoding="utf-8").split("\n")
    suite = folder.parent / "few_cases.tsv"
    suite.write_text("\n".join(cases[:1] + cases[1:400:20]), encoding="utf-8")
    result = run_functional_tests(folder, suite)
    systems = result["systems"]
    assert {"ensemble", "ensemble without the gate", "char-ngram-blind"} <= set(systems)
    assert systems["ensemble without the gate"]["overall"]["n"] == systems["ensemble"]["overall"]["n"] == 20


def test_the_run_summary_names_the_gate_and_the_score_without_it(caplog):
    import logging

    from hf_trainer.pipeline.summary import log_summary

    summary = {"demo": False, "data": "d", "models": {}, "weights": {"e5-small": 1.0, "char-ngram-blind": 0.0},
               "mention_gate": {"member": "char-ngram-blind", "strength": 0.2}, "test_f1_macro_tuned": 0.75,
               "test_f1_macro_at_0.5": 0.7, "test_f1_micro_tuned": 0.7, "test_f1_macro_tuned_ci": None,
               "threshold_choice": "tuned", "test_evaluations": 1, "report": "r", "stopped_after": None,
               "total_seconds": 1.0, "stage_seconds": {}, "test_f1_macro_tuned_without_gate": 0.76}  # fmt: skip
    with caplog.at_level(logging.INFO):
        log_summary(summary)
    assert "mention gate: char-ngram-blind, strength 0.2 (test macro F1 without it: 0.7600)" in caplog.text


def test_a_gate_member_must_be_one_of_the_members_and_not_the_only_one():
    from hf_trainer.selection.cross_validation import choose_mixture
    from hf_trainer.utils.errors import InvalidArgument

    gate_position = load_recipe("ensemble").gate_position
    assert gate_position("char-ngram-blind", ["out/e5-small", "out/char-ngram-blind"]) == 1
    assert gate_position(None, ["out/e5-small"]) is None
    with pytest.raises(InvalidArgument, match="--gate_member 'blind' is not one of --members"):
        gate_position("blind", ["out/e5-small", "out/char-ngram-blind"])
    mixed, gate, labels = _mentions(100, 5, informative=True)
    with pytest.raises(InvalidInput, match="needs at least one other member"):
        choose_mixture([gate], labels, "f1_macro_tuned", LABELS, gate=0)


def test_the_spelling_games_score_the_ensemble_without_its_gate_too(gated):
    from hf_trainer.evaluation.robustness import run_robustness

    folder, _ = gated
    result = run_robustness(folder)
    for part in (result["systems"], result["independent"]["systems"]):
        assert list(part)[:2] == ["ensemble", "ensemble without the gate"] and "char-ngram-blind" in part
    assert "ensemble without the gate" in (folder / "report" / "report.md").read_text(encoding="utf-8")
