"""Spelling games: the ways people who post abuse on Korean sites write a word so that a filter
misses it, as seeded, label-preserving perturbations of a comment.

Each family takes a rate (the share of the units it may touch: syllables, words or characters)
and a seed; the same (text, rate, seed) always gives the same result. Examples (rate 1):

=====================  ===============================================  ====================
family                 what it does                                     시발 놈아 ->
=====================  ===============================================  ====================
jamo_split             a syllable written as its letters                ㅅㅣㅂㅏㄹ ㄴㅗㅁㅇㅏ
initial_consonants     a word written as its initial consonants         ㅅㅂ ㄴㅇ
inner_spaces           spaces or punctuation between a word's syllables  시 발 놈.아 (seeded)
stretch                a syllable's vowel drawn out (시 -> 시이이)        시이발 노옴아 (seeded)
lookalike_syllables    야민정음: a syllable swapped for one that looks   (멍멍이 -> 댕댕이)
                       alike
latin_lookalikes       letters written as Latin letters and digits      (개새끼 -> 7H^H77l)
vowel_swap             similar vowels swapped (ㅐ/ㅔ, ㅒ/ㅖ, ㅙ/ㅞ/ㅚ)     (개새끼 -> 게세끼)
invisible              zero-width characters between characters         시\u200b발 ...
fullwidth              ASCII written in full-width forms, spaces as     (ㅗ ㅗ fuck -> ｆｕｃｋ)
                       ideographic spaces
=====================  ===============================================  ====================

Written for this recipe (no outside obfuscation tool); Hangul arithmetic per Unicode's syllable
composition (syllable = 0xAC00 + (initial * 21 + vowel) * 28 + final).
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Sequence

from ..utils.errors import InvalidArgument

SYLLABLE_BASE, SYLLABLE_END = 0xAC00, 0xD7A3
# Compatibility jamo (what a keyboard types) for the initial consonants, vowels and finals, in
# Unicode's syllable order.
INITIALS = "ㄱㄲㄴㄷㄸㄹㅁㅂㅃㅅㅆㅇㅈㅉㅊㅋㅌㅍㅎ"
VOWELS = "ㅏㅐㅑㅒㅓㅔㅕㅖㅗㅘㅙㅚㅛㅜㅝㅞㅟㅠㅡㅢㅣ"
FINALS = ("", "ㄱ", "ㄲ", "ㄳ", "ㄴ", "ㄵ", "ㄶ", "ㄷ", "ㄹ", "ㄺ", "ㄻ", "ㄼ", "ㄽ", "ㄾ", "ㄿ", "ㅀ", "ㅁ",
          "ㅂ", "ㅄ", "ㅅ", "ㅆ", "ㅇ", "ㅈ", "ㅊ", "ㅋ", "ㅌ", "ㅍ", "ㅎ")  # fmt: skip

# 야민정음: syllables that look alike when drawn (both directions are used by writers).
LOOKALIKE_SYLLABLES = {
    "멍": "댕", "댕": "멍", "명": "띵", "띵": "명", "귀": "커", "커": "귀", "대": "머", "머": "대",
    "유": "윾", "비": "네", "네": "비", "빔": "넴", "면": "띤", "팔": "괄", "괄": "팔", "피": "끠",
    "눈": "곡", "물": "롬", "우": "꾸", "왕": "앟", "교": "꾜", "거": "긔", "세": "셰", "의": "븨",
}  # fmt: skip
# Letters drawn with Latin letters, digits and symbols (7H^H77l for 개새끼).
LATIN_LETTERS = {
    "ㄱ": "7", "ㄲ": "77", "ㄴ": "L", "ㄷ": "C", "ㄹ": "2", "ㅂ": "B", "ㅅ": "^", "ㅆ": "^^", "ㅇ": "o",
    "ㅋ": "7", "ㅌ": "E", "ㅍ": "II", "ㅏ": "F", "ㅐ": "H", "ㅜ": "T", "ㅡ": "-", "ㅣ": "l",
}  # fmt: skip
SIMILAR_VOWELS = {"ㅐ": "ㅔ", "ㅔ": "ㅐ", "ㅒ": "ㅖ", "ㅖ": "ㅒ", "ㅙ": "ㅞ", "ㅞ": "ㅚ", "ㅚ": "ㅙ"}
INVISIBLE = ("\u200b", "\u200c", "\u200d", "\u2060", "\ufeff")
SEPARATORS = (" ", ".", "*", "1", "_")


def is_syllable(char: str) -> bool:
    return SYLLABLE_BASE <= ord(char) <= SYLLABLE_END


def split_syllable(char: str) -> tuple[str, str, str]:
    """(initial, vowel, final) compatibility jamo of a Hangul syllable; final "" when it has none."""
    index = ord(char) - SYLLABLE_BASE
    return INITIALS[index // (21 * 28)], VOWELS[index // 28 % 21], FINALS[index % 28]


def join_syllable(initial: str, vowel: str, final: str = "") -> str:
    return chr(
        SYLLABLE_BASE + (INITIALS.index(initial) * 21 + VOWELS.index(vowel)) * 28 + FINALS.index(final)
    )


def _syllables(text: str, rate: float, rng: random.Random, change: Callable[[str], str | None]) -> str:
    """Each Hangul syllable that `change` can change is changed with probability `rate`."""
    out = []
    for char in text:
        changed = change(char) if is_syllable(char) else None
        out.append(changed if changed is not None and rng.random() < rate else char)
    return "".join(out)


def _words(
    text: str, rate: float, rng: random.Random, change: Callable[[str, random.Random], str | None]
) -> str:
    """Each space-separated word that `change` can change is changed with probability `rate`
    (the spaces between words are kept as they are)."""
    parts = re.split(r"(\s+)", text)
    for i in range(0, len(parts), 2):
        if parts[i] and rng.random() < rate:
            changed = change(parts[i], rng)
            if changed is not None:
                parts[i] = changed
    return "".join(parts)


def jamo_split(text: str, rate: float, rng: random.Random) -> str:
    """시발 -> ㅅㅣ발 / ㅅㅣㅂㅏㄹ: a syllable typed as its letters."""
    return _syllables(text, rate, rng, lambda c: "".join(split_syllable(c)))


def initial_consonants(text: str, rate: float, rng: random.Random) -> str:
    """시발 -> ㅅㅂ: a word of two or more syllables written as their initial consonants."""

    def abbreviate(word: str, _rng: random.Random) -> str | None:
        if sum(map(is_syllable, word)) < 2:
            return None
        return "".join(split_syllable(c)[0] if is_syllable(c) else c for c in word)

    return _words(text, rate, rng, abbreviate)


def inner_spaces(text: str, rate: float, rng: random.Random) -> str:
    """시발 -> 시 발, 시.발, 시1발: a space, a dot, an asterisk, a digit or an underscore between two
    syllables of a word."""

    def spread(word: str, rng: random.Random) -> str | None:
        gaps = [i for i in range(1, len(word)) if is_syllable(word[i - 1]) and is_syllable(word[i])]
        if not gaps:
            return None
        at = rng.choice(gaps)
        return word[:at] + rng.choice(SEPARATORS) + word[at:]

    return _words(text, rate, rng, spread)


def stretch(text: str, rate: float, rng: random.Random) -> str:
    """시발 -> 시이이발: a syllable's vowel drawn out as 1-3 extra syllables of ㅇ + that vowel (a
    syllable with a final consonant moves it to the last one: 놈 -> 노옴)."""

    def drawn(word: str, rng: random.Random) -> str | None:
        places = [i for i, c in enumerate(word) if is_syllable(c)]
        if not places:
            return None
        at = rng.choice(places)
        initial, vowel, final = split_syllable(word[at])
        extra = rng.randint(1, 3)
        stretched = join_syllable(initial, vowel) + join_syllable("ㅇ", vowel) * (extra - 1)
        stretched += join_syllable("ㅇ", vowel, final)
        return word[:at] + stretched + word[at + 1 :]

    return _words(text, rate, rng, drawn)


def lookalike_syllables(text: str, rate: float, rng: random.Random) -> str:
    """멍멍이 -> 댕댕이, 명작 -> 띵작, 귀엽다 -> 커엽다 (야민정음, LOOKALIKE_SYLLABLES)."""
    return _syllables(text, rate, rng, LOOKALIKE_SYLLABLES.get)


def latin_lookalikes(text: str, rate: float, rng: random.Random) -> str:
    """개새끼 -> 7H^H77l: a syllable's letters drawn with Latin letters, digits and symbols (a
    syllable is changed only when every letter of it has a look-alike)."""

    def drawn(char: str) -> str | None:
        letters = [j for j in split_syllable(char) if j]
        if not all(j in LATIN_LETTERS for j in letters):
            return None
        return "".join(LATIN_LETTERS[j] for j in letters)

    return _syllables(text, rate, rng, drawn)


def vowel_swap(text: str, rate: float, rng: random.Random) -> str:
    """개새끼 -> 게세끼: a similar-sounding vowel (ㅐ/ㅔ, ㅒ/ㅖ, ㅙ/ㅞ/ㅚ)."""

    def swapped(char: str) -> str | None:
        initial, vowel, final = split_syllable(char)
        return join_syllable(initial, SIMILAR_VOWELS[vowel], final) if vowel in SIMILAR_VOWELS else None

    return _syllables(text, rate, rng, swapped)


def invisible(text: str, rate: float, rng: random.Random) -> str:
    """시발 -> 시\u200b발: a zero-width character after a character, with probability `rate`."""
    out = []
    for i, char in enumerate(text):
        out.append(char)
        if i < len(text) - 1 and not char.isspace() and rng.random() < rate:
            out.append(rng.choice(INVISIBLE))
    return "".join(out)


def fullwidth(text: str, rate: float, rng: random.Random) -> str:
    """fuck -> ｆｕｃｋ, a space -> an ideographic space (U+3000): ASCII in full-width forms."""
    out = []
    for char in text:
        if "!" <= char <= "~" and rng.random() < rate:
            out.append(chr(ord(char) - 0x21 + 0xFF01))
        elif char == " " and rng.random() < rate:
            out.append("\u3000")
        else:
            out.append(char)
    return "".join(out)


FAMILIES: dict[str, Callable[[str, float, random.Random], str]] = {
    "jamo_split": jamo_split,
    "initial_consonants": initial_consonants,
    "inner_spaces": inner_spaces,
    "stretch": stretch,
    "lookalike_syllables": lookalike_syllables,
    "latin_lookalikes": latin_lookalikes,
    "vowel_swap": vowel_swap,
    "invisible": invisible,
    "fullwidth": fullwidth,
}
MIXED = "mixed"  # every family, each at the rate, applied one after another in FAMILIES order


def perturb(text: str, family: str, rate: float, seed: int) -> str:
    """`text` played with by one family (or MIXED: all of them) at `rate`; seeded per text, so a
    comment gets the same result wherever it sits in a list."""
    if not 0.0 <= rate <= 1.0:
        raise InvalidArgument(f"a perturbation rate must be in [0, 1], got {rate}")
    names = list(FAMILIES) if family == MIXED else [family]
    unknown = [n for n in names if n not in FAMILIES]
    if unknown:
        raise InvalidArgument(
            f"unknown perturbation family {unknown[0]!r}; choose from {', '.join([*FAMILIES, MIXED])}"
        )
    rng = random.Random(f"{seed}\x00{family}\x00{text}")
    for name in names:
        text = FAMILIES[name](text, rate, rng)
    return text


def perturb_all(texts: Sequence[str], family: str, rate: float, seed: int) -> list[str]:
    return [perturb(text, family, rate, seed) for text in texts]


def add_spelling_copies(dataset, share: float, rate: float, seed: int):
    """Training-time spelling games: for a seeded `share` of the rows, one more row with the same
    labels whose text plays one family's game (drawn per row) at `rate`. Each copy follows its row,
    flagged in a `spelling_copy` column; its RNG is seeded by (seed, row id), so the result does not
    depend on batching. Run it on the train split only (`datasets` `.map`, like AEDA)."""
    if not 0.0 <= share <= 1.0:
        raise InvalidArgument(f"--spelling_copies must be in [0, 1], got {share}")
    if "spelling_copy" not in dataset.column_names:
        dataset = dataset.add_column("spelling_copy", [False] * len(dataset))
    if share == 0.0 or rate == 0.0:
        return dataset
    families = list(FAMILIES)

    def add_batch(batch: dict[str, list]) -> dict[str, list]:
        out: dict[str, list] = {key: [] for key in batch}
        for row in range(len(batch["text"])):
            for key in batch:
                out[key].append(batch[key][row])
            rng = random.Random(f"spelling-{seed}-{batch['id'][row]}")
            if batch["spelling_copy"][row] or rng.random() >= share:
                continue
            played = perturb(batch["text"][row], rng.choice(families), rate, seed)
            if played == batch["text"][row]:
                continue  # nothing to play with (no Hangul, no ASCII): no copy
            for key in batch:
                out[key].append(batch[key][row])
            out["text"][-1], out["spelling_copy"][-1] = played, True
        return out

    return dataset.map(add_batch, batched=True, desc="Spelling-game copies")


def without_spelling_copies(dataset):
    """The rows of `dataset` that `add_spelling_copies` did not add (all of them when it added none)."""
    if "spelling_copy" not in dataset.column_names:
        return dataset
    return dataset.filter(lambda row: not row["spelling_copy"])
