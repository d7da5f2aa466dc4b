"""Outside spelling games: a second, independent generator of Korean obfuscations.

This module was written independently of the project's own perturbation code,
from general knowledge of how Korean internet users disguise words to dodge
filters. It is an outside check for measuring a classifier's robustness and
must never feed training data.

A rate is the share of eligible units changed (words or syllables, depending on
the family). The count is drawn by stochastic rounding, so it is always the
floor or the ceiling of ``rate * eligible``, and its expectation is exact.

Non-Hangul text (Latin, digits, emoji, URLs) is left as it is by every family
except ``fullwidth``, whose point is to widen ASCII (and narrow Hangul jamo),
and ``mixed``, which includes it. ``latin_lookalikes``, ``punctuation`` and
``invisible`` add non-Hangul characters inside Hangul words, but never alter
non-Hangul characters that were already there.
"""

from __future__ import annotations

import hashlib
import math
import random
import re
import unicodedata
from collections.abc import Callable, Sequence

# fmt: off
FAMILIES: tuple[str, ...] = (
    "jamo_split", "inner_spaces", "punctuation", "stretch", "lookalike_syllables",
    "latin_lookalikes", "vowel_swap", "invisible", "fullwidth", "abbreviated_slang",
    "initial_consonants", "mixed",
)
DEFAULT_RATES: dict[str, float] = {
    "jamo_split": 0.5, "inner_spaces": 0.5, "punctuation": 0.5, "stretch": 0.4,
    "lookalike_syllables": 0.8, "latin_lookalikes": 0.5, "vowel_swap": 0.5,
    "invisible": 0.6, "fullwidth": 0.8, "abbreviated_slang": 0.8,
    "initial_consonants": 0.5, "mixed": 0.1,
}
# fmt: on

Game = Callable[[str, float, random.Random], str]
Change = Callable[[str, random.Random], str]


def _pairs(table: str) -> dict[str, str]:
    """Parse a "key:value key:value" table."""
    return dict(entry.split(":") for entry in table.split())


_BASE, _LAST = 0xAC00, 0xD7A3
_INITIALS = "ㄱㄲㄴㄷㄸㄹㅁㅂㅃㅅㅆㅇㅈㅉㅊㅋㅌㅍㅎ"
_MEDIALS = "ㅏㅐㅑㅒㅓㅔㅕㅖㅗㅘㅙㅚㅛㅜㅝㅞㅟㅠㅡㅢㅣ"
_FINALS = ("", *"ㄱㄲㄳㄴㄵㄶㄷㄹㄺㄻㄼㄽㄾㄿㅀㅁㅂㅄㅅㅆㅇㅈㅊㅋㅌㅍㅎ")

# Characters slipped between two letters (미ㅡ친 uses the vowel ㅡ as a dash).
_PUNCT = (".", "*", "~", "_", "-", ",", "/", "^", "'", "!", "·", "ㅡ", "♡")
# U+3164 (Hangul filler) is left out: it renders as a blank, so it is a space game.
_INVISIBLE = ("\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u00ad")
# Trailing vowel sound of a medial, echoed when a vowel is stretched (뭐 -> 뭐어).
_ECHO = _pairs("ㅑ:ㅏ ㅒ:ㅐ ㅕ:ㅓ ㅖ:ㅔ ㅘ:ㅏ ㅙ:ㅐ ㅚ:ㅔ ㅛ:ㅗ ㅝ:ㅓ ㅞ:ㅔ ㅟ:ㅣ ㅠ:ㅜ ㅢ:ㅣ")
# 야민정음 look-alikes, applied the way writers do (one way): initial + medial pairs
# keep the final (대박 -> 머박, 명작 -> 띵작, 귀엽다 -> 커엽다, 팔도 -> 괄도).
_LOOKALIKE_PAIRS = _pairs("ㄷㅐ:ㅁㅓ ㄱㅟ:ㅋㅓ ㅁㅕ:ㄸㅣ ㅂㅣ:ㄴㅔ ㅍㅏ:ㄱㅘ")
# Whole-syllable swaps and 180-degree rotations (멍멍이 -> 댕댕이, 눈물 -> 롬곡).
_LOOKALIKE_WHOLE = _pairs("멍:댕 유:윾 왕:앟 눈물:롬곡 폭풍:옾눞")
# Letters drawn with Latin letters, digits and symbols (개 -> 7H, 내 -> LH, 꺼 -> 77ㅓ).
_LATIN_INITIAL = {"ㄱ": ("7",), "ㄲ": ("77",), "ㄴ": ("L",), "ㅅ": ("^",), "ㅌ": ("E",)}
_LATIN_MEDIAL = {"ㅐ": ("H",), "ㅣ": ("l", "I", "1", "|"), "ㅜ": ("T",)}
_LATIN_FINAL = {"ㄱ": ("7",), "ㄴ": ("L",), "ㅅ": ("^",)}
# Sound-alike vowels and finals that writers mix up (개 -> 게, 했다 -> 햇다, 밖 -> 박).
_VOWEL_SWAPS = _pairs("ㅐ:ㅔ ㅔ:ㅐ ㅒ:ㅖ ㅖ:ㅒ ㅙ:ㅚㅞ ㅚ:ㅙㅞ ㅞ:ㅙㅚ ㅢ:ㅣㅔ")
_FINAL_GROUPS = ("ㄷㅅㅆㅈㅊㅌ", "ㄱㄲㅋ", "ㅂㅍ")
# Words people abbreviate to initial consonants (alternatives split by "/").
_SLANG_TABLE = """
씨발:ㅅㅂ/ㅆㅂ 시발:ㅅㅂ 씨바:ㅅㅂ/ㅆㅂ 시바:ㅅㅂ 씨팔:ㅆㅍ/ㅅㅍ 시팔:ㅅㅍ
병신:ㅂㅅ 븅신:ㅂㅅ 존나:ㅈㄴ 좆같:ㅈ같 좆까:ㅈㄲ 개새끼:ㄱㅅㄲ 개새기:ㄱㅅㄲ
씹새끼:ㅆㅅㄲ 새끼:ㅅㄲ 미친놈:ㅁㅊㄴ 미친년:ㅁㅊㄴ 미친:ㅁㅊ 지랄:ㅈㄹ 꺼져:ㄲㅈ
닥쳐:ㄷㅊ 쓰레기:ㅆㄹㄱ 찐따:ㅉㄸ 느금마:ㄴㄱㅁ 느금빠:ㄴㄱㅂ 니애미:ㄴㅇㅁ
니애비:ㄴㅇㅂ 급식충:ㄱㅅㅊ 인정:ㅇㅈ 리얼:ㄹㅇ 이거레알:ㅇㄱㄹㅇ 반박불가:ㅂㅂㅂㄱ
지리네:ㅈㄹㄴ 감사:ㄱㅅ 수고:ㅅㄱ 축하:ㅊㅋ 죄송:ㅈㅅ 오케이:ㅇㅋ 괜찮:ㄱㅊ
몰라:ㅁㄹ 덜덜:ㄷㄷ
"""
# Innocent words holding a slang key: 시발점 (starting point), 시바견 (Shiba dog),
# 감사원 (audit board), 영향을 미친다 (exerts an influence).
_GUARD_RE = re.compile("시발[점역]|시바(?:견|이누)|감사[원관]|리얼리티|미친다")


def _is_syllable(ch: str) -> bool:
    return _BASE <= ord(ch) <= _LAST


def _is_hangul(ch: str) -> bool:
    return _is_syllable(ch) or 0x3131 <= ord(ch) <= 0x318E


def _decompose(syllable: str) -> tuple[str, str, str]:
    index = ord(syllable) - _BASE
    return _INITIALS[index // 588], _MEDIALS[index // 28 % 21], _FINALS[index % 28]


def _compose(initial: str, medial: str, final: str = "") -> str:
    index = (_INITIALS.index(initial) * 21 + _MEDIALS.index(medial)) * 28
    return chr(_BASE + index + _FINALS.index(final))


def _alternation(keys: Sequence[str]) -> re.Pattern[str]:
    return re.compile("|".join(sorted(keys, key=len, reverse=True)))


def _build_lookalikes() -> dict[str, str]:
    table = dict(_LOOKALIKE_WHOLE)
    for left, right in _LOOKALIKE_PAIRS.items():
        for final in _FINALS:
            table[_compose(*left, final)] = _compose(*right, final)
    return table


def _build_halfwidth() -> dict[str, str]:
    table = {}
    for code in range(0x3131, 0x3164):
        try:
            name = "HALFWIDTH " + unicodedata.name(chr(code))
            table[chr(code)] = unicodedata.lookup(name)
        except KeyError:
            continue
    return table


_LOOKALIKES = _build_lookalikes()
_LOOKALIKE_RE = _alternation(list(_LOOKALIKES))
_HALFWIDTH = _build_halfwidth()
_SLANG = {key: tuple(value.split("/")) for key, value in _pairs(_SLANG_TABLE).items()}
_SLANG_RE = _alternation(list(_SLANG))


def _pick(count: int, rate: float, rng: random.Random) -> list[int]:
    """Choose floor or ceil of rate * count indices (stochastic rounding), sorted."""
    chosen = min(count, math.floor(rate * count + rng.random()))
    return sorted(rng.sample(range(count), chosen))


def _edit(
    text: str,
    spans: list[tuple[int, int]],
    rate: float,
    rng: random.Random,
    change: Change,
) -> str:
    """Rewrite a share ``rate`` of the given non-overlapping spans of ``text``."""
    pieces, last = [], 0
    for pos in _pick(len(spans), rate, rng):
        start, end = spans[pos]
        pieces += [text[last:start], change(text[start:end], rng)]
        last = end
    return "".join(pieces) + text[last:]


def _words(text: str, eligible: Callable[[str], bool]) -> list[tuple[int, int]]:
    """Spans of whitespace-separated words that pass ``eligible``."""
    return [m.span() for m in re.finditer(r"\S+", text) if eligible(m.group())]


def _chars(text: str, eligible: Callable[[str], bool]) -> list[tuple[int, int]]:
    """Spans of single characters that pass ``eligible``."""
    return [(i, i + 1) for i, ch in enumerate(text) if eligible(ch)]


def _has_syllable(word: str) -> bool:
    return any(map(_is_syllable, word))


def _gaps(word: str, test: Callable[[str], bool]) -> list[int]:
    return [i for i in range(1, len(word)) if test(word[i - 1]) and test(word[i])]


def _gap_game(test: Callable[[str], bool], fills: Sequence[str], most: int) -> Game:
    """Build a word game that slips fill characters into gaps between letters."""

    def change(word: str, rng: random.Random) -> str:
        gaps = _gaps(word, test)
        cuts = sorted(rng.sample(gaps, rng.randint(1, min(most, len(gaps)))))
        pieces, last = [], 0
        for cut in cuts:
            pieces += [word[last:cut], rng.choice(fills)]
            last = cut
        return "".join(pieces) + word[last:]

    def game(text: str, rate: float, rng: random.Random) -> str:
        spans = _words(text, lambda word: bool(_gaps(word, test)))
        return _edit(text, spans, rate, rng, change)

    return game


def _jamo_split(text: str, rate: float, rng: random.Random) -> str:
    spans = _chars(text, _is_syllable)
    return _edit(text, spans, rate, rng, lambda syl, _: "".join(_decompose(syl)))


def _stretch_syllable(syllable: str, at_end: bool, rng: random.Random) -> str:
    """Lengthen one syllable: 시 -> 시이이, 존 -> 조오온; at a word end also
    나 -> 나ㅏㅏ or 헐 -> 헐ㄹㄹ (never ㅋ or ㅎ, which are laughter, not stretch).
    """
    initial, medial, final = _decompose(syllable)
    echo, times = _ECHO.get(medial, medial), rng.randint(1, 3)
    # A trailing ㅗ reads as the middle-finger sign, so 요 is never tailed with ㅗㅗ.
    tail_ok = final in ("ㄴ", "ㄹ", "ㅁ") or (not final and echo != "ㅗ")
    if at_end and tail_ok and rng.random() < 0.3:
        return syllable + (final or echo) * times
    if not final:
        return syllable + _compose("ㅇ", echo) * times
    head = _compose(initial, medial) + _compose("ㅇ", echo) * (times - 1)
    return head + _compose("ㅇ", echo, final)


def _stretch(text: str, rate: float, rng: random.Random) -> str:
    def change(word: str, rng: random.Random) -> str:
        spot = rng.choice([i for i, ch in enumerate(word) if _is_syllable(ch)])
        at_end = spot + 1 == len(word) or not _is_hangul(word[spot + 1])
        longer = _stretch_syllable(word[spot], at_end, rng)
        return word[:spot] + longer + word[spot + 1 :]

    return _edit(text, _words(text, _has_syllable), rate, rng, change)


def _lookalike(text: str, rate: float, rng: random.Random) -> str:
    spans = [m.span() for m in _LOOKALIKE_RE.finditer(text)]
    return _edit(text, spans, rate, rng, lambda key, _: _LOOKALIKES[key])


def _latin_syllable(syllable: str, rng: random.Random) -> str:
    tables = (_LATIN_INITIAL, _LATIN_MEDIAL, _LATIN_FINAL)
    parts = zip(_decompose(syllable), tables, strict=True)
    return "".join(rng.choice(tab[jamo]) if jamo in tab else jamo for jamo, tab in parts)


def _latin(text: str, rate: float, rng: random.Random) -> str:
    def drawable(ch: str) -> bool:
        parts = _decompose(ch) if _is_syllable(ch) else ("", "", "")
        return parts[0] in _LATIN_INITIAL or parts[1] in _LATIN_MEDIAL

    return _edit(text, _chars(text, drawable), rate, rng, _latin_syllable)


def _sound_alikes(ch: str) -> list[str]:
    if not _is_syllable(ch):
        return []
    initial, medial, final = _decompose(ch)
    found = [_compose(initial, other, final) for other in _VOWEL_SWAPS.get(medial, "")]
    for group in _FINAL_GROUPS:
        if final and final in group:
            others = group.replace(final, "")
            found += [_compose(initial, medial, other) for other in others]
    return found


def _vowel_swap(text: str, rate: float, rng: random.Random) -> str:
    spans = _chars(text, lambda ch: bool(_sound_alikes(ch)))
    return _edit(text, spans, rate, rng, lambda ch, r: r.choice(_sound_alikes(ch)))


def _widen(ch: str) -> str:
    if "!" <= ch <= "~":
        return chr(ord(ch) + 0xFEE0)
    return _HALFWIDTH.get(ch, ch)


def _fullwidth(text: str, rate: float, rng: random.Random) -> str:
    spans = _words(text, lambda word: any(_widen(c) != c for c in word))
    return _edit(text, spans, rate, rng, lambda word, _: "".join(map(_widen, word)))


def _slang_spans(text: str) -> list[tuple[int, int]]:
    """Spans of slang keys, leaving out those inside guarded innocent words."""
    guarded = [m.span() for m in _GUARD_RE.finditer(text)]
    spans = [m.span() for m in _SLANG_RE.finditer(text)]
    return [(s, e) for s, e in spans if not any(s < ge and gs < e for gs, ge in guarded)]


def _abbreviate(text: str, rate: float, rng: random.Random) -> str:
    spans = _slang_spans(text)
    return _edit(text, spans, rate, rng, lambda key, r: r.choice(_SLANG[key]))


def _initials(text: str, rate: float, rng: random.Random) -> str:
    def change(word: str, _: random.Random) -> str:
        return "".join(_decompose(c)[0] if _is_syllable(c) else c for c in word)

    return _edit(text, _words(text, _has_syllable), rate, rng, change)


# Order for "mixed": word-level rewrites first, then spelling, then separators.
# fmt: off
_MIXED_ORDER = (
    "abbreviated_slang", "lookalike_syllables", "vowel_swap", "stretch",
    "latin_lookalikes", "jamo_split", "punctuation", "inner_spaces", "invisible",
    "fullwidth",
)
# fmt: on


def _mixed(text: str, rate: float, rng: random.Random) -> str:
    for family in _MIXED_ORDER:
        text = _GAMES[family](text, rate, rng)
    return text


_GAMES: dict[str, Game] = {
    "jamo_split": _jamo_split,
    "inner_spaces": _gap_game(_is_syllable, (" ",), 99),
    "punctuation": _gap_game(_is_hangul, _PUNCT, 2),
    "stretch": _stretch,
    "lookalike_syllables": _lookalike,
    "latin_lookalikes": _latin,
    "vowel_swap": _vowel_swap,
    "invisible": _gap_game(_is_hangul, _INVISIBLE, 3),
    "fullwidth": _fullwidth,
    "abbreviated_slang": _abbreviate,
    "initial_consonants": _initials,
    "mixed": _mixed,
}


def _check(family: str, rate: float) -> None:
    if family not in _GAMES:
        known = ", ".join(FAMILIES)
        raise ValueError(f"unknown family {family!r}; known families: {known}")
    if not 0.0 <= rate <= 1.0:
        raise ValueError(f"rate must lie in [0, 1], got {rate!r}")


def play(text: str, family: str, rate: float, rng: random.Random) -> str:
    """Apply one spelling game to ``text``, changing ``rate`` of its eligible units."""
    _check(family, rate)
    return _GAMES[family](text, rate, rng) if text else text


def _rng_for(seed: int, index: int, family: str) -> random.Random:
    digest = hashlib.sha256(f"outside-games|{family}|{seed}|{index}".encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


def play_all(texts: Sequence[str], family: str, rate: float | None = None, seed: int = 0) -> list[str]:
    """Play ``family`` on every text, each with its own generator from (seed, index)."""
    used = DEFAULT_RATES.get(family, 0.0) if rate is None else rate
    _check(family, used)
    return [play(text, family, used, _rng_for(seed, index, family)) for index, text in enumerate(texts)]


def has_abbreviable_word(text: str) -> bool:
    """Tell whether ``abbreviated_slang`` would abbreviate a word of ``text``."""
    return bool(_slang_spans(text))
