"""The robustness figures on a stub ensemble whose answers are known: signs, thresholds, subsets."""

from __future__ import annotations

import numpy as np
import pytest

from hf_trainer.evaluation.robustness import Game, robustness, robustness_md, score_games, verdict
from hf_trainer.metrics.multilabel import binarize, macro_f1

TEXTS = ["시발 뭐야", "오늘 날씨 좋다", "이 시발놈아", "밥 먹었어?", "시발 진짜", "좋은 아침"] * 5
REFERENCES = np.array([[1, 0] if "시발" in t else [0, 1] for t in TEXTS])


class KeywordMember:
    """Scores label 0 high when the keyword is in the comment, label 1 the other way round."""

    canonical_form = ()

    def __init__(self, keyword: str, high: float) -> None:
        self.keyword, self.high = keyword, high

    def predict_proba(self, texts):
        found = np.array([self.keyword in t for t in texts], dtype=float)
        return np.stack([0.1 + (self.high - 0.1) * found, 0.9 - 0.8 * found], axis=1)


class StubSpec:
    members = [{"name": "strong"}, {"name": "weak"}]
    thresholds = np.array([0.5, 0.5])

    def mix(self, member_probs):
        return (member_probs[0] + member_probs[1]) / 2


class StubEnsemble:
    spec = StubSpec()
    members = [KeywordMember("시발", 0.9), KeywordMember("시발", 0.6)]


def test_a_game_that_hides_the_word_costs_f1_and_the_difference_says_so():
    clean = {
        "ensemble": binarize(StubSpec().mix([m.predict_proba(TEXTS) for m in StubEnsemble.members]), 0.5)
    }
    hidden = [t.replace("시발", "시 발") for t in TEXTS]
    game = Game("hide", 1.0, hidden)

    def decisions(played):
        return {
            "ensemble": binarize(StubSpec().mix([m.predict_proba(played) for m in StubEnsemble.members]), 0.5)
        }

    result = score_games([game], TEXTS, clean, decisions, REFERENCES, resamples=200, seed=0)
    figure = result["systems"]["ensemble"]["hide"]
    expected = macro_f1(decisions(hidden)["ensemble"], REFERENCES) - macro_f1(clean["ensemble"], REFERENCES)
    assert expected < -0.3 and figure["difference"] == pytest.approx(expected)  # played minus as written
    assert figure["ci"][1] < 0 and result["families"]["hide"]["comments_changed"] == pytest.approx(0.5)
    # Scored on a subset: the comments the game can play with, against the same comments as written.
    subset = Game("hide", 1.0, hidden, rows=np.array([0, 1, 2, 3]))
    figure = score_games([subset], TEXTS, clean, decisions, REFERENCES, 200, 0)["systems"]["ensemble"]["hide"]
    assert figure["as written"] == 1.0 and figure["f1_macro"] < 1.0 and figure["difference"] < 0
    # A game with no comment to play with (no slang in a small split) is reported as such, not a crash.
    none = Game("hide", 1.0, hidden, rows=np.array([], dtype=int))
    empty = score_games([none], TEXTS, clean, decisions, REFERENCES, 200, 0)
    assert empty["families"]["hide"]["rows"] == 0 and empty["systems"]["ensemble"] == {}


def test_each_member_is_scored_at_its_own_thresholds():
    own = [np.array([0.5, 0.5]), np.array([0.7, 0.5])]  # the weak member's 0.6 never reaches 0.7
    result = robustness(StubEnsemble(), TEXTS, REFERENCES, own, rate=0.3, seed=0, resamples=100)
    weak = StubEnsemble.members[1].predict_proba(TEXTS)
    assert result["systems"]["weak"]["as written"] == pytest.approx(
        macro_f1(binarize(weak, own[1]), REFERENCES)
    )
    assert result["systems"]["weak"]["as written"] < macro_f1(binarize(weak, StubSpec.thresholds), REFERENCES)
    assert result["systems"]["strong"]["as written"] == 1.0
    # Both columns: this project's families and the independent ones, with the subset family's rows.
    assert "jamo_split" in result["families"] and "abbreviated_slang" in result["independent"]["families"]
    slang = result["independent"]["families"]["abbreviated_slang"]
    assert slang["rows"] == sum("시발" in t for t in TEXTS) and slang["target"]
    assert not result["independent"]["families"]["initial_consonants"]["target"]
    lines = "\n".join(robustness_md(result | {"backend": "onnx"}))
    assert "Scored with the onnx backend" in lines and "| abbreviated_slang |" in lines


def test_the_verdict_names_how_far_a_family_missed():
    assert verdict(-0.019, True) == "met" and verdict(-0.05, True) == "missed by 0.0300"
    assert verdict(-0.5, False) == "stress figure, no target"
