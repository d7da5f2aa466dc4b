"""Tests for the outside spelling games (an independent robustness check)."""

from __future__ import annotations

import math
import random
import re
import unicodedata

import pytest

import hf_trainer.evaluation.outside_games as og

SENTENCES = [
    "이 시발 병신 새끼야 꺼져",
    "정치인들 진짜 미친 것 같다",
    "오늘 날씨 좋네요 ㅎㅎ",
    "대통령 명작 귀엽다 멍멍이 팔도 비빔면 눈물",
    "hello 123 개새끼 https://x.com/a?b=1 했다 😀 의사",
]
LONG_TEXT = " ".join(SENTENCES * 6)
LATIN_ONLY = "hello WORLD 123 https://example.com/a?b=1 😀 #tag e-mail@x.org"
INVISIBLE = {"\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u00ad"}
COMPAT_JAMO = re.compile(r"[\u3131-\u318e]")
# Families whose point is to touch non-Hangul text.
TOUCHES_NON_HANGUL = ("fullwidth", "mixed")


def rng(seed: int = 0) -> random.Random:
    return random.Random(seed)


def syllables(text: str) -> int:
    return sum("\uac00" <= ch <= "\ud7a3" for ch in text)


def expected_counts(count: int, rate: float) -> set[int]:
    return {math.floor(rate * count), math.ceil(rate * count)}


def changed_words(before: str, after: str) -> int:
    old, new = before.split(), after.split()
    assert len(old) == len(new)
    return sum(a != b for a, b in zip(old, new, strict=True))


def changed_chars(before: str, after: str) -> int:
    assert len(before) == len(after)
    return sum(a != b for a, b in zip(before, after, strict=True))


def oracle_jamo(syllable: str) -> str:
    """Compatibility jamo of a syllable, derived from Unicode names, not arithmetic."""
    letters = []
    for part in unicodedata.normalize("NFD", syllable):
        name = unicodedata.name(part)
        for kind in ("CHOSEONG", "JUNGSEONG", "JONGSEONG"):
            name = name.replace(f"HANGUL {kind} ", "HANGUL LETTER ")
        letters.append(unicodedata.lookup(name))
    return "".join(letters)


# --- API --------------------------------------------------------------------


def test_families_and_default_rates() -> None:
    assert og.FAMILIES == (
        "jamo_split", "inner_spaces", "punctuation", "stretch", "lookalike_syllables",
        "latin_lookalikes", "vowel_swap", "invisible", "fullwidth", "abbreviated_slang",
        "initial_consonants", "mixed",
    )  # fmt: skip
    assert set(og.DEFAULT_RATES) == set(og.FAMILIES)
    assert all(0.0 < rate <= 1.0 for rate in og.DEFAULT_RATES.values())


def test_unknown_family_names_known_ones() -> None:
    with pytest.raises(ValueError, match="jamo_split.*abbreviated_slang"):
        og.play("시발", "leetspeak", 0.5, rng())
    with pytest.raises(ValueError, match="initial_consonants"):
        og.play_all(["시발"], "nope")


@pytest.mark.parametrize(
    "rate", [-0.01, 1.01, float("nan"), 5.0], ids=["negative", "above_one", "nan", "five"]
)
def test_rate_out_of_range(rate: float) -> None:
    with pytest.raises(ValueError, match="rate"):
        og.play("시발", "jamo_split", rate, rng())
    with pytest.raises(ValueError, match="rate"):
        og.play_all(["시발"], "jamo_split", rate)


@pytest.mark.parametrize("family", og.FAMILIES)
def test_empty_and_rate_zero(family: str) -> None:
    assert og.play("", family, 1.0, rng()) == ""
    assert og.play_all(["", "시발"], family, 0.0) == ["", "시발"]
    assert og.play(LONG_TEXT, family, 0.0, rng()) == LONG_TEXT


@pytest.mark.parametrize("family", og.FAMILIES)
def test_play_all_default_rate_and_length(family: str) -> None:
    default = og.play_all(SENTENCES, family, seed=3)
    explicit = og.play_all(SENTENCES, family, og.DEFAULT_RATES[family], seed=3)
    assert default == explicit
    assert len(default) == len(SENTENCES)


# --- Determinism ------------------------------------------------------------


@pytest.mark.parametrize("family", og.FAMILIES)
def test_deterministic_for_seed_and_varies_with_seed(family: str) -> None:
    texts = [LONG_TEXT, LONG_TEXT]
    first = og.play_all(texts, family, 0.5, seed=11)
    assert first == og.play_all(texts, family, 0.5, seed=11)
    outputs = {tuple(og.play_all(texts, family, 0.5, seed=s)) for s in range(6)}
    assert len(outputs) > 1
    assert first[0] != first[1]  # each text index has its own generator


def test_text_result_does_not_depend_on_other_texts() -> None:
    a = og.play_all(["시발 병신", LONG_TEXT], "mixed", 0.3, seed=5)
    b = og.play_all(["전혀 다른 글", LONG_TEXT], "mixed", 0.3, seed=5)
    assert a[1] == b[1]


def test_stochastic_rounding_gives_floor_or_ceil() -> None:
    counts = set()
    for seed in range(200):
        out = og.play("시발 병신 새끼", "jamo_split", 0.5, rng(seed))
        counts.add(6 - syllables(out))
    assert counts == {3}
    counts = {
        changed_words("가나 다라 마바", og.play("가나 다라 마바", "stretch", 0.5, rng(s))) for s in range(200)
    }
    assert counts == {1, 2}


# --- Non-Hangul survives ----------------------------------------------------


@pytest.mark.parametrize("family", [f for f in og.FAMILIES if f not in TOUCHES_NON_HANGUL])
def test_non_hangul_text_survives(family: str) -> None:
    assert og.play(LATIN_ONLY, family, 1.0, rng()) == LATIN_ONLY
    out = og.play(SENTENCES[4], family, 1.0, rng())
    for token in ("hello", "123", "https://x.com/a?b=1", "😀"):
        assert token in out.split()


@pytest.mark.parametrize("family", TOUCHES_NON_HANGUL)
def test_fullwidth_and_mixed_do_touch_latin(family: str) -> None:
    out = og.play(LATIN_ONLY, family, 1.0, rng())
    assert out != LATIN_ONLY
    assert unicodedata.normalize("NFKC", out) == LATIN_ONLY


# --- jamo_split -------------------------------------------------------------


def test_jamo_split_examples() -> None:
    assert og.play("시발", "jamo_split", 1.0, rng()) == "ㅅㅣㅂㅏㄹ"
    assert og.play("병신", "jamo_split", 1.0, rng()) == "ㅂㅕㅇㅅㅣㄴ"
    assert og.play("닭 ㅋㅋ", "jamo_split", 1.0, rng()) == "ㄷㅏㄺ ㅋㅋ"


def test_jamo_split_matches_unicode_names() -> None:
    sample = random.Random(7).sample(range(0xAC00, 0xD7A4), 400)
    text = "".join(map(chr, sample))
    expected = "".join(oracle_jamo(ch) for ch in text)
    assert og.play(text, "jamo_split", 1.0, rng()) == expected


@pytest.mark.parametrize("rate", [0.1, 0.3, 0.75])
def test_jamo_split_rate(rate: float) -> None:
    total = syllables(LONG_TEXT)
    out = og.play(LONG_TEXT, "jamo_split", rate, rng(1))
    assert total - syllables(out) in expected_counts(total, rate)


# --- inner_spaces / punctuation / invisible --------------------------------


def test_inner_spaces_rate_and_content() -> None:
    text = " ".join(["개새", "병신", "미친"] * 20)
    out = og.play(text, "inner_spaces", 0.4, rng(2))
    assert out.replace(" ", "") == text.replace(" ", "")
    assert len(out.split()) - 60 in expected_counts(60, 0.4)
    assert og.play("개새끼", "inner_spaces", 1.0, rng(3)) in {
        "개 새끼", "개새 끼", "개 새 끼",
    }  # fmt: skip


def test_inner_spaces_leaves_jamo_and_latin_words() -> None:
    assert og.play("ㅋㅋㅋ abc 가", "inner_spaces", 1.0, rng()) == "ㅋㅋㅋ abc 가"


def strip_chars(text: str, chars: set[str]) -> str:
    return "".join(ch for ch in text if ch not in chars)


@pytest.mark.parametrize(
    ("family", "inserted"),
    [
        ("punctuation", set(".*~_-,/^'!·ㅡ♡")),
        ("invisible", INVISIBLE),
    ],
)
def test_insertions_between_hangul_letters(family: str, inserted: set[str]) -> None:
    text = " ".join(["시발놈", "병신", "개새끼", "미친", "꺼져"] * 8)
    out = og.play(text, family, 0.5, rng(4))
    assert strip_chars(out, inserted) == text
    assert changed_words(text, out) in expected_counts(40, 0.5)
    for word in out.split():
        assert word[0] not in inserted and word[-1] not in inserted


def test_punctuation_examples_look_right() -> None:
    out = og.play("시발", "punctuation", 1.0, rng())
    assert re.fullmatch(r"시[.*~_\-,/^'!·ㅡ♡]발", out)


def test_invisible_keeps_visible_text() -> None:
    out = og.play("이 시발 병신 새끼야", "invisible", 1.0, rng())
    assert out != "이 시발 병신 새끼야"
    assert strip_chars(out, INVISIBLE) == "이 시발 병신 새끼야"
    assert "\u3164" not in out


# --- stretch ----------------------------------------------------------------


def test_stretch_rate_and_only_adds_hangul() -> None:
    text = " ".join(["시발", "존나", "병신아", "ok", "미친놈"] * 8)
    out = og.play(text, "stretch", 0.25, rng(5))
    assert changed_words(text, out) in expected_counts(32, 0.25)
    for before, after in zip(text.split(), out.split(), strict=True):
        assert len(after) >= len(before)
        if before == "ok":
            assert after == "ok"
    assert "ㅋ" not in out and "ㅎ" not in out


@pytest.mark.parametrize(
    ("word", "pattern"),
    [
        ("시", r"시(이{1,3}|ㅣ{1,3})"),
        ("존", r"조오{0,2}온|존ㄴ{1,3}"),
        ("나", r"나(아{1,3}|ㅏ{1,3})"),
        ("좋", r"조오{0,2}옿"),
        ("요", r"요오{1,3}"),
        ("뭐", r"뭐(어{1,3}|ㅓ{1,3})"),
    ],
)
def test_stretch_shapes(word: str, pattern: str) -> None:
    for seed in range(40):
        assert re.fullmatch(pattern, og.play(word, "stretch", 1.0, rng(seed)))


def test_stretch_does_not_tail_mid_word() -> None:
    for seed in range(60):
        out = og.play("진짜", "stretch", 1.0, rng(seed))
        assert re.fullmatch(r"지이{0,2}인짜|진짜(아{1,3}|ㅏ{1,3})", out)


# --- lookalike_syllables ----------------------------------------------------


def test_lookalike_examples() -> None:
    text = "대통령 명작 귀엽다 멍멍이 팔도 비빔면 눈물 유동 대박"
    expected = "머통령 띵작 커엽다 댕댕이 괄도 네넴띤 롬곡 윾동 머박"
    assert og.play(text, "lookalike_syllables", 1.0, rng()) == expected


def test_lookalike_leaves_common_words() -> None:
    text = "오늘 날씨 좋네요 머리 커피"
    assert og.play(text, "lookalike_syllables", 1.0, rng()) == text


def test_lookalike_rate() -> None:
    text = " ".join(["대박", "명작", "귀신"] * 10)
    out = og.play(text, "lookalike_syllables", 0.3, rng(6))
    assert changed_chars(text, out) in expected_counts(30, 0.3)


# --- latin_lookalikes -------------------------------------------------------


def test_latin_examples() -> None:
    assert og.play("개", "latin_lookalikes", 1.0, rng()) == "7H"
    assert og.play("내가", "latin_lookalikes", 1.0, rng()) == "LH7ㅏ"
    assert og.play("꺼져", "latin_lookalikes", 1.0, rng()) == "77ㅓ져"
    out = og.play("개새끼", "latin_lookalikes", 1.0, rng())
    assert re.fullmatch(r"7H\^H77[lI1|]", out)


def test_latin_rate_and_untouched_syllables() -> None:
    text = " ".join(["개새", "꺼져", "봐"] * 10)  # 개 새 꺼 are drawable
    out = og.play(text, "latin_lookalikes", 0.5, rng(8))
    assert syllables(text) - syllables(out) in expected_counts(30, 0.5)
    assert out.count("봐") == 10 and out.count("져") == 10


# --- vowel_swap -------------------------------------------------------------


def test_vowel_swap_examples() -> None:
    assert og.play("개새끼", "vowel_swap", 1.0, rng()) == "게세끼"
    assert og.play("의사", "vowel_swap", 1.0, rng()) in {"이사", "에사"}
    assert og.play("했다", "vowel_swap", 1.0, rng()) in {
        "헸다", "핻다", "햇다", "햊다", "햋다", "햍다",
    }  # fmt: skip


def test_vowel_swap_rate_and_keeps_initials() -> None:
    text = " ".join(["개새끼", "했다", "의사", "웬일", "밖에"] * 6)
    out = og.play(text, "vowel_swap", 0.5, rng(9))
    eligible = 7 * 6  # 개 새 / 했 / 의 / 웬 / 밖 에
    assert changed_chars(text, out) in expected_counts(eligible, 0.5)
    for a, b in zip(text, out, strict=True):
        if a != b:
            assert unicodedata.normalize("NFD", a)[0] == unicodedata.normalize("NFD", b)[0]


# --- fullwidth --------------------------------------------------------------


def test_fullwidth_examples() -> None:
    assert og.play("abc 123 ok!", "fullwidth", 1.0, rng()) == "ａｂｃ １２３ ｏｋ！"
    out = og.play("시발 ㅋㅋ", "fullwidth", 1.0, rng())
    assert out.startswith("시발 ")
    names = [unicodedata.name(ch) for ch in out[3:]]
    assert names == ["HALFWIDTH HANGUL LETTER KHIEUKH"] * 2


def test_fullwidth_rate() -> None:
    text = " ".join(["word", "시발", "42"] * 10)
    out = og.play(text, "fullwidth", 0.5, rng(10))
    assert changed_words(text, out) in expected_counts(20, 0.5)
    assert out.count("시발") == 10


# --- abbreviated_slang ------------------------------------------------------

SLANG_WORDS = (
    "씨발",
    "시발",
    "씨바",
    "병신",
    "븅신",
    "존나",
    "좆같다",
    "개새끼",
    "씹새끼",
    "새끼",
    "미친놈",
    "미친년",
    "미친",
    "지랄",
    "꺼져",
    "닥쳐",
    "쓰레기",
    "찐따",
    "느금마",
    "느금빠",
    "니애미",
    "니애비",
    "급식충",
    "인정",
    "리얼",
    "이거레알",
    "반박불가",
    "지리네",
    "감사",
    "수고",
    "축하",
    "죄송",
    "오케이",
    "괜찮아",
    "몰라",
    "덜덜).split(",
)


def test_abbreviation_list_is_large_enough() -> None:
    assert len(SLANG_WORDS) >= 30
    assert all(og.has_abbreviable_word(word) for word in SLANG_WORDS)
    for word in SLANG_WORDS:
        out = og.play(word, "abbreviated_slang", 1.0, rng())
        assert out != word and COMPAT_JAMO.match(out)


def test_abbreviation_examples() -> None:
    play = og.play
    assert play(SENTENCES[0], "abbreviated_slang", 1.0, rng()) == "이 ㅅㅂ ㅂㅅ ㅅㄲ야 ㄲㅈ"
    assert play("시발놈아", "abbreviated_slang", 1.0, rng()) == "ㅅㅂ놈아"
    assert play("개새끼들", "abbreviated_slang", 1.0, rng()) == "ㄱㅅㄲ들"
    assert play("미친놈", "abbreviated_slang", 1.0, rng()) == "ㅁㅊㄴ"
    assert play("씨발", "abbreviated_slang", 1.0, rng()) in {"ㅅㅂ", "ㅆㅂ"}


def test_abbreviation_detection_and_guards() -> None:
    assert not og.has_abbreviable_word("오늘 날씨 좋네요 ㅎㅎ")
    assert not og.has_abbreviable_word("")
    for innocent in ("시발점", "시바견", "감사원", "영향을 미친다"):
        assert not og.has_abbreviable_word(innocent)
        assert og.play(innocent, "abbreviated_slang", 1.0, rng()) == innocent
    assert og.has_abbreviable_word("정치인들 진짜 미친 것 같다")


def test_abbreviation_rate() -> None:
    text = " ".join(["시발놈", "병신아", "날씨"] * 10)
    out = og.play(text, "abbreviated_slang", 0.5, rng(12))
    left = out.count("시발") + out.count("병신")
    assert 20 - left in expected_counts(20, 0.5)
    assert out.count("날씨") == 10


# --- initial_consonants / mixed --------------------------------------------


def test_initial_consonants() -> None:
    out = og.play(SENTENCES[1], "initial_consonants", 1.0, rng())
    assert out == "ㅈㅊㅇㄷ ㅈㅉ ㅁㅊ ㄱ ㄱㄷ"
    text = " ".join(["정치인들", "hello", "진짜"] * 10)
    out = og.play(text, "initial_consonants", 0.5, rng(13))
    assert changed_words(text, out) in expected_counts(20, 0.5)
    assert out.count("hello") == 10


def test_mixed_changes_text_but_keeps_most_at_low_rate() -> None:
    out = og.play_all([LONG_TEXT], "mixed", 0.1, seed=1)[0]
    assert out != LONG_TEXT
    kept = set(out.split())
    assert sum(word in kept for word in LONG_TEXT.split()) > len(LONG_TEXT.split()) // 2
    assert og.play("시발", "mixed", 1.0, rng()) != "시발"
