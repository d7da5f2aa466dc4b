"""The char n-gram CPU member: the members' output contract, exact reload without pickle, refusal of
damaged files, and an ensemble that mixes it with transformer members end to end."""

from __future__ import annotations

import json
import pickle

import numpy as np
import pytest
from sklearn.feature_extraction.text import TfidfVectorizer

from hf_trainer import Ensemble
from hf_trainer.members.char_ngram import (
    C_GRID,
    CONFIG_FILE,
    INITIALS_PREFIX,
    JAMO_PREFIX,
    JOINED_PREFIX,
    WEIGHTS_FILE,
    CharNgramMember,
    CharNgramSettings,
    fit_char_ngram,
    initials_view,
    joined_view,
    ngram_analyzer,
)
from hf_trainer.selection.ensemble import EnsembleSpec
from hf_trainer.selection.weight_search import combine
from hf_trainer.utils.errors import InvalidInput, run_recipe
from tests.helpers import DEMO_TEST, DEMO_TRAIN, load_recipe


def test_member_writes_the_same_output_contract(mixed, pipeline_dir):
    root, _ = mixed
    member = root / "char-ngram"
    for name in (CONFIG_FILE, WEIGHTS_FILE, "config.json", "metrics.json", "run_config.json"):
        assert (member / name).is_file(), name
    assert not list(member.glob("*.bin")) and not list(member.glob("*.pkl"))
    config = json.loads((member / "config.json").read_text(encoding="utf-8"))
    assert list(config["id2label"].values())[:2] == ["여성/가족", "남성"] and config["num_labels"] == 10
    run_config = json.loads((member / "run_config.json").read_text(encoding="utf-8"))
    assert run_config["labels"] == list(config["id2label"].values())
    metrics = json.loads((member / "metrics.json").read_text(encoding="utf-8"))
    search = metrics["char_ngram"]
    assert (
        set(search["c_grid"]) == {str(c) for c in C_GRID}
        and search["criterion"] == "holdout_cv_f1_macro_tuned"
    )
    data = metrics["data"]  # it trains on the original rows only, not on the AEDA copies
    # ... spelling-game copies of those included
    assert data["train_rows_before_aeda"] < metrics["train_rows"] < data["rows"]["train"]
    scores = {c: row["holdout_cv_f1_macro_tuned"] for c, row in search["c_grid"].items()}
    assert scores[str(search["c"])] == max(scores.values())
    for split in ("val", "test"):
        ours = np.load(member / "predictions" / f"{split}.npz")
        theirs = np.load(pipeline_dir / "tiny-bert" / "predictions" / f"{split}.npz")
        assert np.array_equal(ours["ids"], theirs["ids"]) and np.array_equal(ours["labels"], theirs["labels"])
        assert ours["probs"].dtype == np.float32 and ours["probs"].shape == theirs["probs"].shape


def test_reloaded_member_gives_the_saved_probabilities_with_sklearn_features(mixed):
    root, _ = mixed
    model = CharNgramMember.load(root / "char-ngram")
    texts = [line.split("\t")[0] for line in DEMO_TEST.read_text(encoding="utf-8").split("\n")[1:151]]
    saved = np.load(root / "char-ngram" / "predictions" / "test.npz")["probs"]
    assert np.allclose(model.predict_proba(texts), saved, atol=1e-6)
    assert model.settings.jamo_ngram_max == 6 and any(g.startswith(JAMO_PREFIX) for g in model.vocabulary)
    reference = TfidfVectorizer(
        analyzer=ngram_analyzer(model.settings), sublinear_tf=True, vocabulary=model.vocabulary
    )
    reference.fit(texts)
    reference.idf_ = model.idf
    assert np.allclose(model.features(texts).toarray(), reference.transform(texts).toarray(), atol=1e-12)


def test_jamo_ngrams_let_spelling_games_share_features():
    with_jamo, syllables_only = (
        ngram_analyzer(CharNgramSettings()),
        ngram_analyzer(CharNgramSettings(jamo_ngram_max=0)),
    )
    # 시발 and its typed-jamo spelling ㅅㅂ share no syllable n-gram, but their initial letters ᄉ and ᄇ.
    assert set(syllables_only("시발")) & set(syllables_only("ㅅㅂ")) <= {" "}
    shared = set(with_jamo("시발")) & set(with_jamo("ㅅㅂ"))
    assert {JAMO_PREFIX + "\u1109", JAMO_PREFIX + "\u1107"} <= shared
    assert set(syllables_only("시발")) < set(with_jamo("시발"))


def test_the_initial_consonant_view_reads_a_word_and_its_abbreviation_alike():
    assert initials_view("시발놈아 ㅅㅂㄴㅇ ㅋㅋ ok 1") == "ㅅㅂㄴㅇ ㅅㅂㄴㅇ ㅋㅋ ok 1"
    assert initials_view("ㅅㅣ발") == "ㅅㅂ"  # typed vowels drop out
    with_view = ngram_analyzer(CharNgramSettings(initials_ngram_max=5))
    without = ngram_analyzer(CharNgramSettings())
    # The initial-consonant game (시발놈 -> ㅅㅂㄴ) leaves every n-gram of the view unchanged.
    view = {g for g in with_view("시발놈 꺼져") if g.startswith(INITIALS_PREFIX)}
    assert view and view == {g for g in with_view("ㅅㅂㄴ 꺼져") if g.startswith(INITIALS_PREFIX)}
    assert INITIALS_PREFIX + "ㅅㅂㄴ" in view and not any(
        g.startswith(INITIALS_PREFIX) for g in without("시발놈")
    )
    # The view does not need the jamo n-grams: without them it is still read (and only they go).
    view_alone = ngram_analyzer(CharNgramSettings(jamo_ngram_max=0, initials_ngram_max=5))("시발놈 꺼져")
    assert set(view_alone) == {g for g in with_view("시발놈 꺼져") if not g.startswith(JAMO_PREFIX)}


def test_the_joined_view_reads_a_word_with_marks_or_spaces_inside_alike():
    assert joined_view("시 발 뭐.야 ㅋㅋ ok-1!") == "시발뭐야ㅋㅋok1"
    analyze = ngram_analyzer(CharNgramSettings(joined_ngram_max=3))
    views = [
        {g for g in analyze(t) if g.startswith(JOINED_PREFIX)}
        for t in ("시발 꺼져", "시 발 꺼져", "시.발 꺼-져")
    ]
    assert views[0] and views[0] == views[1] == views[2] and JOINED_PREFIX + "발꺼" in views[0]
    assert not any(g.startswith(JOINED_PREFIX) for g in ngram_analyzer(CharNgramSettings())("시발"))


@pytest.mark.parametrize("old_format, dropped", [("char-ngram/1", ("jamo_ngram_max", "initials_ngram_max")),
                                                 ("char-ngram/2", ("initials_ngram_max",)),
                                                 ("char-ngram/3", ("joined_ngram_max",)),
                                                 ("char-ngram/4", ("blind_group_names",))])  # fmt: skip
def test_a_member_saved_in_an_older_format_loads_as_it_was(mixed, tmp_path, old_format, dropped):
    import shutil

    root, _ = mixed
    folder = tmp_path / "old-format"
    shutil.copytree(root / "char-ngram", folder)
    config = json.loads((folder / CONFIG_FILE).read_text(encoding="utf-8"))
    assert config["format"] == "char-ngram/5"
    # Files before the joined view (3 and older) have no setting for it; none before 5 blinds.
    older = (
        ("blind_group_names",) if old_format == "char-ngram/4" else ("blind_group_names", "joined_ngram_max")
    )
    settings = {k: v for k, v in config["settings"].items() if k not in dropped + older}
    config.pop("blinded_names")
    (folder / CONFIG_FILE).write_text(json.dumps(dict(config, format=old_format, settings=settings)))
    loaded = CharNgramMember.load(folder).settings
    assert loaded.initials_ngram_max == 0 and loaded.jamo_ngram_max == (0 if old_format.endswith("1") else 6)
    assert loaded.joined_ngram_max == 0 and not loaded.blind_group_names


def test_fit_is_deterministic():
    texts = [line.split("\t")[0] for line in DEMO_TRAIN.read_text(encoding="utf-8").split("\n")[1:401]]
    rng = np.random.default_rng(0)
    labels = (rng.random((400, 3)) < 0.3).astype(np.float32)
    fits = [
        fit_char_ngram(texts[:300], labels[:300], list("abc"), CharNgramSettings(), c_grid=(1.0, 4.0))[0]
        for _ in range(2)
    ]
    assert np.array_equal(fits[0].coef, fits[1].coef) and np.array_equal(fits[0].intercept, fits[1].intercept)
    assert fits[0].vocabulary == fits[1].vocabulary and fits[0].c == fits[1].c
    assert np.array_equal(fits[0].predict_proba(texts[300:]), fits[1].predict_proba(texts[300:]))


class _Payload:
    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_damaged_or_foreign_files_are_refused_and_never_unpickled(mixed, tmp_path):
    import shutil

    root, _ = mixed
    folder = tmp_path / "member"
    shutil.copytree(root / "char-ngram", folder)
    weights = (folder / WEIGHTS_FILE).read_bytes()
    (folder / WEIGHTS_FILE).write_bytes(weights[: len(weights) // 2])
    with pytest.raises(InvalidInput, match="damaged or foreign char-ngram member"):
        CharNgramMember.load(folder)
    marker = tmp_path / "code-ran"
    (folder / WEIGHTS_FILE).write_bytes(pickle.dumps(_Payload(marker)))
    with pytest.raises(InvalidInput, match="damaged or foreign"):
        CharNgramMember.load(folder)
    assert not marker.exists()
    (folder / WEIGHTS_FILE).write_bytes(weights)
    config = json.loads((folder / CONFIG_FILE).read_text(encoding="utf-8"))
    (folder / CONFIG_FILE).write_text(
        json.dumps(dict(config, ngrams=config["ngrams"][:-5])), encoding="utf-8"
    )
    with pytest.raises(InvalidInput, match="n-grams"):
        CharNgramMember.load(folder)
    (folder / CONFIG_FILE).write_text(json.dumps(dict(config, format="sklearn-pickle")), encoding="utf-8")
    with pytest.raises(InvalidInput, match="not a char-ngram member file"):
        CharNgramMember.load(folder)
    (folder / CONFIG_FILE).write_text(json.dumps(config), encoding="utf-8")
    from safetensors.numpy import load_file, save_file

    good = load_file(str(folder / WEIGHTS_FILE))
    for name, damaged in (
        ("intercept", good["intercept"][:1]),  # would broadcast one label's intercept over all ten
        (
            "coef",
            np.where(np.arange(good["coef"].size).reshape(good["coef"].shape) == 3, np.nan, good["coef"]),
        ),
        ("idf", np.full_like(good["idf"], np.inf)),
    ):
        save_file({**good, name: damaged.astype(good[name].dtype)}, str(folder / WEIGHTS_FILE))
        with pytest.raises(InvalidInput, match="char-ngram member"):
            CharNgramMember.load(folder)


def test_mixed_ensemble_runs_through_every_recipe_and_inference(mixed, tmp_path, capsys):
    root, report = mixed
    spec = EnsembleSpec.load(root / "ensemble")
    assert [m["kind"] for m in spec.members] == ["transformer", "transformer", "char-ngram"]
    assert {"char-ngram @0.5", "char-ngram tuned", "ensemble tuned"} <= set(report["systems"])
    assert "| char-ngram @0.5 |" in (root / "ensemble" / "report" / "report.md").read_text(encoding="utf-8")
    ensemble = Ensemble.from_pretrained(str(root / "ensemble"), device="cpu")
    texts = [line.split("\t")[0] for line in DEMO_TEST.read_text(encoding="utf-8").split("\n")[1:151]]
    saved = combine([np.load(d / "predictions" / "test.npz")["probs"] for d in spec.member_dirs(root / "ensemble")],
                    spec.weights)  # fmt: skip
    rows = [0, 5, 77, 149]
    assert np.allclose(ensemble.predict_proba([texts[i] for i in rows], batch_size=3), saved[rows], atol=1e-5)
    source = tmp_path / "in.txt"
    source.write_text("여자들은 다 똑같다\n오늘 날씨 좋네요\n", encoding="utf-8")
    out = tmp_path / "out.jsonl"
    code = run_recipe(load_recipe("predict").main, ["--ensemble", str(root / "ensemble"), "--input", str(source),
                                                     "--output", str(out)])  # fmt: skip
    written = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    expected = ensemble.predict(["여자들은 다 똑같다", "오늘 날씨 좋네요"])
    assert code == 0 and [(r["scores"], r["labels"]) for r in written] == [
        (e["scores"], e["labels"]) for e in expected
    ]
    for row in expected:  # the labels are the scores at or over the ensemble's own thresholds
        assert row["labels"] == [
            n for n, t in zip(spec.labels, spec.thresholds, strict=True) if row["scores"][n] >= t
        ]
    alone = Ensemble.from_pretrained(str(root / "char-ngram"), device="cpu")  # a member folder alone
    assert np.allclose(alone.predict_proba(texts[:4]), np.load(root / "char-ngram" / "predictions" / "test.npz")[
        "probs"][:4], atol=1e-6)  # fmt: skip


def test_onnx_transformers_and_the_char_ngram_member_mix_in_one_ensemble(mixed):
    pytest.importorskip("onnxruntime")
    root, _ = mixed
    record = load_recipe("export").main(["--ensemble_dir", str(root / "ensemble")])
    assert set(record["members"]) == {"tiny-bert", "tiny-roberta"}  # nothing to export for char-ngram
    assert record["valid"] == {"fp32": True}
    served = Ensemble.from_pretrained(str(root / "ensemble"), device="cpu", backend="onnx")
    assert [type(m).__name__ for m in served.members] == [
        "OnnxMember",
        "OnnxMember",
        "CharNgramMember",
    ]
    texts = [line.split("\t")[0] for line in DEMO_TEST.read_text(encoding="utf-8").split("\n")[1:41]]
    expected = Ensemble.from_pretrained(str(root / "ensemble"), device="cpu").predict_proba(texts)
    assert np.abs(served.predict_proba(texts) - expected).max() < 1e-5  # fp32 copies: the same scores


def test_an_ensemble_of_char_ngram_members_only_has_nothing_to_export(mixed, tmp_path):
    pytest.importorskip("onnxruntime")
    root, _ = mixed
    load_recipe("ensemble").main(
        ["--members", str(root / "char-ngram"), "--output_dir", str(tmp_path / "ens")]
    )
    with pytest.raises(InvalidInput, match="nothing to export"):
        load_recipe("export").main(["--ensemble_dir", str(tmp_path / "ens")])
    # The ONNX backend needs no export for it: the member keeps its own path.
    served = Ensemble.from_pretrained(str(tmp_path / "ens"), device="cpu", backend="onnx")
    assert [type(m).__name__ for m in served.members] == ["CharNgramMember"]


def test_the_per_label_fits_do_not_depend_on_the_number_of_processes(monkeypatch):
    from joblib import parallel_config

    from hf_trainer.members import char_ngram

    texts = [line.split("\t")[0] for line in DEMO_TRAIN.read_text(encoding="utf-8").split("\n")[1:401]]
    labels = (np.random.default_rng(1).random((400, 4)) < 0.3).astype(np.float32)
    x = TfidfVectorizer(analyzer=ngram_analyzer(CharNgramSettings()), sublinear_tf=True).fit_transform(texts)
    # Each label's fit is independent of the others: a worker given another label's column, other rows
    # or its results back out of order would change the stacked weights.
    fits = []
    for workers in (1, 2):  # one process (in this one, BLAS with every thread) against two workers
        monkeypatch.setattr(char_ngram, "fit_workers", lambda labels, n=workers: n)
        with parallel_config(max_nbytes=0):  # the workers get memory-mapped arrays, as on the real data
            fits.append(char_ngram._fit_per_label(x, labels, 2.0, CharNgramSettings()))
    assert np.array_equal(fits[0][0], fits[1][0]) and np.array_equal(fits[0][1], fits[1][1])
    assert np.abs(fits[0][0]).max() > 0  # real fits, not the constant-score case


def test_the_c_search_holds_out_a_row_with_its_copies():
    from hf_trainer.members.char_ngram import HOLDOUT_FOLDS, held_out_rows

    rng = np.random.default_rng(3)
    labels = (rng.random((200, 3)) < 0.3).astype(np.float32)
    ids = np.arange(200)
    copies = rng.choice(200, 100, replace=False)  # half the rows get a copy, as with spelling games
    all_ids, all_labels = np.concatenate([ids, copies]), np.concatenate([labels, labels[copies]])
    held = held_out_rows(all_ids, all_labels, seed=42)
    assert set(all_ids[held]).isdisjoint(all_ids[~held])  # no held-out row has a copy in the fit
    assert abs(len(set(all_ids[held])) - 200 / HOLDOUT_FOLDS) <= 2
    assert np.array_equal(held_out_rows(None, labels, 42), held_out_rows(ids, labels, 42))
