"""Explanations (hf_trainer/serving/explain.py): occlusion spans of the ensemble's own score."""

from __future__ import annotations

import json
import random

import numpy as np
import pytest

from hf_trainer.serving.explain import candidate_spans, character_starts, explain, only, pick_spans, without
from hf_trainer.utils.errors import InvalidArgument

FILLER = (
    "오늘 날씨 정말 좋다 우리 동네 카페 커피 맛있네 내일 회사 가기 싫다 주말 영화 보러 갈까 점심 뭐 먹지 "
    "버스 늦게 왔어 친구 만나서 이야기 했다 운동 하고 집에 왔다 시험 공부 해야 하는데 게임 조금만 할까"
).split()
TRIGGER = "쓰레기"


def synthetic(rows: int, seed: int) -> tuple[list[str], np.ndarray]:
    """Comments of filler words; label 0 is the presence of TRIGGER, label 1 is random."""
    rng = random.Random(seed)
    texts, labels = [], []
    for _ in range(rows):
        words = rng.sample(FILLER, rng.randint(4, 9))
        planted = rng.random() < 0.5
        if planted:
            words.insert(rng.randint(0, len(words)), TRIGGER)
        texts.append(" ".join(words))
        labels.append([float(planted), float(rng.random() < 0.3)])
    return texts, np.array(labels, dtype=np.float32)


@pytest.fixture(scope="module")
def trigger_ensemble(tmp_path_factory):
    """A char n-gram member trained on the synthetic comments, served as a one-member ensemble."""
    from hf_trainer import Ensemble
    from hf_trainer.members.char_ngram import CharNgramSettings, fit_char_ngram

    texts, labels = synthetic(600, 0)
    member, _ = fit_char_ngram(texts, labels, ["trigger", "noise"], CharNgramSettings(), c_grid=(4.0,))
    folder = tmp_path_factory.mktemp("trigger") / "char-ngram"
    folder.mkdir()
    member.save(folder)
    ensemble = Ensemble.from_pretrained(str(folder))
    ensemble.folder = folder  # for the CLI test
    return ensemble


def test_a_planted_trigger_is_the_top_span(trigger_ensemble):
    texts, labels = synthetic(200, 1)
    positives = [t for t, y in zip(texts, labels, strict=True) if y[0]]
    negatives = [t for t, y in zip(texts, labels, strict=True) if not y[0]]
    explained = explain(trigger_ensemble, positives, labels=["trigger"], top_k=1)
    top = [e["trigger"]["spans"][0]["text"] if e["trigger"]["spans"] else None for e in explained]
    assert np.mean([t == TRIGGER for t in top]) >= 0.95, top
    for text, e in zip(positives, explained, strict=True):
        span = e["trigger"]["spans"][0]
        assert text[span["start"] : span["end"]] == span["text"]  # offsets of the text as given
    # Without the trigger: no span weighs more than a tenth of the weakest top span of a positive.
    weakest_top = min(e["trigger"]["spans"][0]["weight"] for e in explained)
    for e in explain(trigger_ensemble, negatives, labels=["trigger"]):
        assert all(span["weight"] < min(0.05, weakest_top / 10) for span in e["trigger"]["spans"]), e


def test_explanations_are_of_the_ensembles_own_decided_labels(trigger_ensemble):
    text = f"오늘 {TRIGGER} 같은 영화 봤다"
    (default,) = explain(trigger_ensemble, [text])  # the decided labels by default
    scores = trigger_ensemble.predict_proba([text])[0]
    decided = [n for n, s, t in zip(trigger_ensemble.labels, scores, trigger_ensemble.thresholds, strict=True)
               if s >= t]  # fmt: skip
    assert list(default) == decided and "trigger" in decided
    entry = default["trigger"]
    assert entry["score"] == pytest.approx(scores[0], abs=1e-6) and entry["decided"]
    # The weight is the score lost without the span, rescored by the ensemble.
    span = entry["spans"][0]
    rescored = trigger_ensemble.predict_proba([without(text, span["start"], span["end"])])[0, 0]
    assert span["weight"] == pytest.approx(scores[0] - rescored, abs=1e-6)
    with pytest.raises(InvalidArgument, match="unknown label 'hate'"):
        explain(trigger_ensemble, [text], labels=["hate"])
    blank = explain(trigger_ensemble, ["", "   "], labels=["trigger"])
    assert blank[0]["trigger"]["spans"] == [] and blank[1]["trigger"]["spans"] == []


def test_spans_never_cut_a_character_in_half():
    text = "시발놈아 👍🏽 우리가족👨‍👩‍👧 ᄀᆞ 끝"  # an emoji with a skin tone, a family sequence, a decomposed syllable
    spans = candidate_spans(text)
    starts = set(character_starts(text, 0, len(text)))
    for start, end in spans:
        assert start in starts and (end == len(text) or end in starts or text[end] == " "), text[start:end]
    pieces = {text[s:e] for s, e in spans}
    assert {"시발놈아", "시발", "발놈", "놈아", "👍🏽", "우리가족👨‍👩‍👧", "가족", "족👨‍👩‍👧", "ᄀᆞ"} <= pieces
    assert not any("\u200d" in p and "👧" not in p for p in pieces)  # the family sequence stays whole
    flags = "대한민국🇰🇷🇯🇵만세"  # a flag is two regional-indicator letters: never split, never split apart
    pairs = {flags[s:e] for s, e in candidate_spans(flags)}
    assert {"국🇰🇷", "🇰🇷🇯🇵", "🇯🇵만"} <= pairs and not any(p in ("🇷🇯",) or p.startswith("🇷") for p in pairs)
    assert (
        without("가 나 다", 2, 3) == "가 다"
        and without("가 나", 0, 1) == "나"
        and only("가 나 다", [(4, 5), (0, 1)]) == "가 다"
    )
    long = " ".join(["단어가길어요"] * 300)  # about 2,000 characters: words only
    assert len(candidate_spans(long)) == 300
    many = " ".join(["말"] * 1000)  # 1,000 words: runs of three neighbouring words
    runs = candidate_spans(many)
    assert len(runs) <= 400 and runs[0] == (0, 5) and runs[-1][1] == len(many)
    one_word = candidate_spans("ㅋ" * 1000)  # one word of 1,000 characters: the word and pieces of it
    assert (
        len(one_word) <= 400
        and one_word[0] == (0, 1000)
        and one_word[1] == (0, 3)
        and one_word[-1][1] == 1000
    )


def test_overlapping_spans_are_not_both_shown():
    spans = [(0, 4), (0, 2), (5, 7)]
    assert pick_spans(spans, np.array([0.5, 0.6, 0.1]), 3) == [1, 2]
    assert pick_spans(spans, np.array([-0.1, 0.0, -0.2]), 3) == []


def test_explain_output_is_plain_json(trigger_ensemble):
    explained = explain(trigger_ensemble, [f"{TRIGGER} 오늘"], top_k=2)
    assert json.loads(json.dumps(explained, ensure_ascii=False)) == explained
    assert explained[0]["trigger"]["spans"]  # something to check below

    def leaves(value):
        if isinstance(value, dict):
            for item in value.values():
                yield from leaves(item)
        elif isinstance(value, list):
            for item in value:
                yield from leaves(item)
        else:
            yield value

    # Python's own types only (np.float64 is a float subclass that json.dumps would still write).
    assert {type(leaf) for leaf in leaves(explained)} <= {int, float, str, bool, type(None)}


def test_predict_explain_adds_one_field_per_line(trigger_ensemble, tmp_path):
    from tests.helpers import load_recipe

    lines = [f"오늘 {TRIGGER} 같은 영화", "", "😂👍🏽 " + TRIGGER, "ㅋ" * 1000, f"{TRIGGER}\t탭"]
    source = tmp_path / "in.txt"
    source.write_text("\n".join(lines) + "\n", encoding="utf-8")
    out = tmp_path / "out.jsonl"
    args = ["--ensemble", str(trigger_ensemble.folder), "--input", str(source), "--output", str(out)]
    assert load_recipe("predict").main([*args, "--explain", "--explain_top_k", "2"]) == len(lines)
    records = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [r["line"] for r in records] == list(range(1, len(lines) + 1))
    for record, text in zip(records, lines, strict=True):
        assert record["text"] == text and set(record["explanations"]) == set(record["labels"])
        for spans in record["explanations"].values():
            assert len(spans) <= 2
            for span in spans:
                assert text[span["start"] : span["end"]] == span["text"] and span["weight"] > 0
    assert records[0]["explanations"]["trigger"][0]["text"] == TRIGGER
    for line in (2, 4):  # the emoji line and the tab line: the trigger word found there too
        assert records[line]["explanations"]["trigger"][0]["text"].startswith(TRIGGER), records[line]
    plain = tmp_path / "plain.jsonl"
    assert load_recipe("predict").main([*args[:-1], str(plain)]) == len(lines)
    plain_records = [json.loads(line) for line in plain.read_text(encoding="utf-8").splitlines()]
    assert len(plain_records) == len(lines) and not any("explanations" in r for r in plain_records)


def test_error_rows_get_the_spans_behind_them(trigger_ensemble):
    from hf_trainer.serving.explain import explain_error_rows

    rows = [
        {"label": "trigger", "error": "false positive", "text": f"오늘 {TRIGGER} 같은 영화"},
        {"label": "trigger", "error": "false negative", "text": "오늘 날씨 정말 좋다"},
        {"label": "trigger", "error": "false positive", "text": ""},
    ]
    rows[1]["text"] = (
        f"오늘 {TRIGGER} 날씨 정말 좋다"  # a false negative whose other words pull the score down
    )
    explain_error_rows(trigger_ensemble, rows)
    assert rows[0]["spans"].startswith(f"{TRIGGER} (+")
    assert rows[2]["spans"] == ""
    parts = rows[1]["spans"].split("; ")
    assert rows[1]["spans"] and all(" (-" in part for part in parts)  # what held the score down
    assert not any(part.startswith(TRIGGER) for part in parts)


def test_members_of_weight_zero_are_not_run(trigger_ensemble):
    from hf_trainer import Ensemble
    from hf_trainer.selection.ensemble import EnsembleSpec

    class Exploding:
        labels = trigger_ensemble.labels
        canonical_form = ()

        def predict_proba(self, texts, batch_size=64):
            raise AssertionError("a member of weight 0 was run")

    member = trigger_ensemble.members[0]
    spec = EnsembleSpec(labels=list(trigger_ensemble.labels), members=[
        {"name": "a", "path": ".", "weight": 1.0}, {"name": "b", "path": ".", "weight": 0.0},
    ], objective="none", objective_value=0.0, thresholds=[0.5, 0.5])  # fmt: skip
    texts = [f"{TRIGGER} 오늘", "오늘 날씨"]
    mixed = Ensemble([member, Exploding()], spec).predict_proba(texts)
    expected = spec.mix([member.predict_proba(texts), np.zeros((2, 2), dtype=np.float32)])
    assert np.array_equal(mixed, expected) and np.array_equal(
        mixed, member.predict_proba(texts).astype(np.float64)
    )


def test_errors_tsv_keeps_its_rows_when_the_members_cannot_be_rescored(tmp_path, caplog):
    from tests.helpers import load_recipe

    evaluate_test = load_recipe("evaluate_test")
    rows = [{"label": "trigger", "error": "false positive", "text": "오늘", "spans": "stale"}]
    assert evaluate_test.explain_errors(tmp_path / "no-ensemble-here", rows) is False
    assert rows[0]["spans"] == "" and "errors.tsv without spans" in caplog.text


class KeywordMember:
    """A member that knows one word: label 0 scores high when the word is in the comment."""

    canonical_form = ()

    def __init__(self, labels, word: str) -> None:
        self.labels, self.word = labels, word

    def predict_proba(self, texts, batch_size=64):
        found = np.array([self.word in t for t in texts], dtype=np.float32)
        return np.stack([0.05 + 0.9 * found, np.full(len(texts), 0.2, dtype=np.float32)], axis=1)


def test_the_ensembles_mixed_score_is_explained_not_its_first_member(trigger_ensemble):
    from hf_trainer import Ensemble
    from hf_trainer.selection.ensemble import EnsembleSpec

    labels = list(trigger_ensemble.labels)
    first, heavier = KeywordMember(labels, TRIGGER), KeywordMember(labels, "멍청이")
    spec = EnsembleSpec(labels=labels, members=[
        {"name": "first", "path": ".", "weight": 0.25}, {"name": "heavier", "path": ".", "weight": 0.75},
    ], objective="none", objective_value=0.0, thresholds=[0.3, 0.5])  # fmt: skip
    ensemble = Ensemble([first, heavier], spec)
    text = f"오늘 {TRIGGER} 그리고 멍청이 였다"
    (explained,) = ensemble.explain([text], labels="trigger", top_k=2)  # one label by name
    spans = explained["trigger"]["spans"]
    assert [s["text"] for s in spans] == ["멍청이", TRIGGER]
    full = ensemble.predict_proba([text])[0, 0]
    for span in spans:  # each weight is the mixed score lost without the span
        alone = ensemble.predict_proba([without(text, span["start"], span["end"])])[0, 0]
        assert span["weight"] == pytest.approx(full - alone, abs=1e-6)
    assert spans[0]["weight"] == pytest.approx(0.75 * 0.9, abs=1e-6)
    with pytest.raises(InvalidArgument, match="unknown label '없는'"):
        ensemble.explain([text], labels="없는")


def test_the_faithfulness_benchmark_beats_its_random_baselines(trigger_ensemble, monkeypatch):
    from tests.helpers import REPO_ROOT

    monkeypatch.syspath_prepend(str(REPO_ROOT / "recipes"))
    from benchmarks.explain import faithfulness, random_span, random_spans

    rng = random.Random(0)
    text = "오늘 날씨 쓰레기 좋다 라떼들 커피"
    top = (6, 9)  # 쓰레기
    for _ in range(20):
        other = random_span(text, top, rng)
        assert other is not None and (other[1] <= top[0] or other[0] >= top[1])
        assert len(text[other[0] : other[1]]) == 3
        drawn = random_spans(text, [(0, 2), (3, 5)], rng)
        assert [e - s for s, e in drawn] == [2, 2] and (
            drawn[0][1] <= drawn[1][0] or drawn[1][1] <= drawn[0][0]
        )
    assert (
        random_span("쓰레기", (0, 3), rng) is None
        and random_spans("쓰레기 좋다", [(0, 3), (0, 3)], rng) is None
    )
    texts, _ = synthetic(120, 5)
    result = faithfulness(trigger_ensemble, texts, comments=25)
    assert result["pairs"] >= 10 and result["pairs_with_random_spans"] >= 5
    assert result["comprehensiveness_top3_where_compared"] > 2 * result["comprehensiveness_random3"]
    assert result["sufficiency_top3_where_compared"] < result["sufficiency_random3"]
    assert result["top1_where_compared"] > result["random_top1"] + 0.1
