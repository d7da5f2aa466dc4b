"""One canonical form of a comment, undoing the spelling games that can be undone safely.

The same function runs in training (on every split, before tokenisation and before the char n-gram
vectoriser), in evaluation (the members' predictions are of the canonical texts) and in serving
(`Ensemble.predict`, `predict.py`, the ONNX backend): each member records the steps it was trained
with in its `member.json`, and a member trained without them is served without them.

Steps (each named, so a member records exactly which ran):

- ``width``: full-width ASCII (ｆｕｃｋ) to ASCII, the ideographic space to a space, half-width
  Hangul letters to the usual ones. Not full NFKC: NFKC would also turn the typed letters ㅋㅋ into
  conjoining jamo, which no tokenizer vocabulary holds.
- ``invisible``: zero-width characters, the byte-order mark, the soft hyphen and the bidirectional
  controls removed (they are invisible in a comment and split words for a tokenizer).
- ``latin``: syllables drawn with Latin letters, digits and symbols read back (7H^H77l -> 개새끼,
  개^H끼 -> 개새끼), only where a run of such characters reads wholly as syllables and is not part
  of a Latin word or number, an acronym starting a word (LH공사), a smiley, or one syllable standing
  alone (7F 매장, 2H 남음: a number and a unit; see `latin`); it changes none of UnSmile's 18,742 comments.
- ``compose``: letters typed one by one that form syllables composed back (ㅅㅣ발 -> 시발,
  ㄱㅐ새끼 -> 개새끼): an initial consonant followed by a vowel, with a final consonant when the
  letter after it is not a vowel and does not start a run of itself (ㅇㅏㅋㅋㅋ -> 아ㅋㅋㅋ). Runs of
  consonants alone (ㅋㅋ, ㅅㅂ) and runs of one letter (ㅋㅋㅠㅠ) stay as they are; one letter after
  letters typed apart reads as a final (ㅇㅏㅋ -> 앜).
- ``repeats``: a character repeated more than three times in a row cut to three (ㅋㅋㅋㅋㅋㅋ -> ㅋㅋㅋ,
  !!!!!! -> !!!), and a syllable's vowel drawn out over more than one extra syllable cut to one
  (시이이이발 -> 시이발).

What it does not undo: spaces or punctuation inside a word (시 발: a space is also a real word
boundary), initial consonants standing for a word (ㅅㅂ: many words share them), look-alike
syllables (댕댕이) and similar-vowel swaps (게세끼): each has a legitimate reading, so undoing it
would change comments that play no game. The char n-gram member's jamo n-grams catch part of them.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from ..utils.errors import InvalidInput
from .perturb import FINALS, INITIALS, VOWELS, is_syllable, join_syllable, split_syllable

STEPS = ("width", "invisible", "latin", "compose", "repeats")
NONE: tuple[str, ...] = ()

_INVISIBLE = re.compile("[\u00ad\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u206f\ufeff]")
_REPEATS = re.compile(r"(.)\1{3,}", re.DOTALL)
# Half-width Hangul letters (U+FFA1..U+FFDC) -> compatibility jamo, as NFKC maps them.
_HALFWIDTH = {
    **{0xFFA1 + i: c for i, c in enumerate("ㄱㄲㄳㄴㄵㄶㄷㄸㄹㄺㄻㄼㄽㄾㄿㅀㅁㅂㅃㅄㅅㅆㅇㅈㅉㅊㅋㅌㅍㅎ")},
    **{0xFFC2 + i: c for i, c in enumerate("ㅏㅐㅑㅒㅓㅔ")},
    **{0xFFCA + i: c for i, c in enumerate("ㅕㅖㅗㅘㅙㅚ")},
    **{0xFFD2 + i: c for i, c in enumerate("ㅛㅜㅝㅞㅟㅠ")},
    **{0xFFDA + i: c for i, c in enumerate("ㅡㅢㅣ")},
}
_WIDTH = str.maketrans({0xFF01 + i: chr(0x21 + i) for i in range(94)} | {0x3000: " "} | _HALFWIDTH)


def width(text: str) -> str:
    return text.translate(_WIDTH)


def remove_invisible(text: str) -> str:
    return _INVISIBLE.sub("", text)


# Latin letters, digits and symbols read back as the letters they draw (perturb.LATIN_LETTERS
# reversed; 7 draws ㄱ and ㅋ and reads ㄱ), two-character drawings first.
_LATIN_CONSONANTS = {"77": "ㄲ", "^^": "ㅆ", "II": "ㅍ", "7": "ㄱ", "L": "ㄴ", "C": "ㄷ", "2": "ㄹ", "B": "ㅂ",
                     "^": "ㅅ", "o": "ㅇ", "E": "ㅌ"}  # fmt: skip
_LATIN_VOWELS = {"F": "ㅏ", "H": "ㅐ", "T": "ㅜ", "-": "ㅡ", "l": "ㅣ"}
_LATIN_RUN = re.compile(r"[7LC2B^oEIFHTl\-]+")
_SMILEY = re.compile(r"\^+-+\^+")
_HANGUL = re.compile("[\uac00-\ud7a3\u3131-\u3163]")
_TYPED_LETTERS = re.compile("[\u3131-\u3163]")  # compatibility jamo: letters typed one by one
_ADDRESS = re.compile(r"://|www\.|@|/|^#")  # URLs, e-mail addresses, paths, hashtags: never drawings


def _token_around(text: str, start: int, end: int) -> str:
    """The whitespace-delimited token holding text[start:end]."""
    left = next((i + 1 for i in range(start - 1, -1, -1) if text[i].isspace()), 0)
    right = next((i for i in range(end, len(text)) if text[i].isspace()), len(text))
    return text[left:right]


def _drawn_letter(run: str, at: int, table: dict[str, str]) -> tuple[str | None, int]:
    for size in (2, 1):
        piece = run[at : at + size]
        if len(piece) == size and piece in table:
            return table[piece], size
    return None, 0


def _read_drawn_syllables(run: str) -> str | None:
    """A run of drawn letters read as syllables (initial, vowel, final when no vowel follows it),
    or None when the run is not wholly such syllables."""
    out, at = [], 0
    while at < len(run):
        initial, size = _drawn_letter(run, at, _LATIN_CONSONANTS)
        vowel, vowel_size = _drawn_letter(run, at + size, _LATIN_VOWELS) if initial else (None, 0)
        if vowel is None:
            return None
        at += size + vowel_size
        final, final_size = _drawn_letter(run, at, _LATIN_CONSONANTS)
        if final in FINALS and _drawn_letter(run, at + final_size, _LATIN_VOWELS)[0] is None:
            at += final_size
        else:
            final = ""
        out.append(join_syllable(initial, vowel, final))
    return "".join(out)


def latin(text: str) -> str:
    """Syllables drawn with Latin letters, digits and symbols read back (7H^H77l -> 개새끼, 개^H끼 ->
    개새끼, ^^-레기 -> 쓰레기). A run is read only when all of it reads as syllables, it is not part
    of a longer Latin word or number (BTS, 2F4), and it touches Hangul or holds a digit or ^; capitals
    alone that start a word are an acronym (LH공사, CF광고 stay; 귀엽CF reads 귀엽다); a run whose only
    vowel is the dash must touch Hangul, hold a digit or ^ and not be a smiley (E-스포츠, B-급, o-o and
    ^-^ stay). A run that reads as one syllable is read only inside or at the end of a Hangul word, or
    before one when drawn with ^: alone or before a word it is how a number and a unit are written
    (7F 매장, 2H 남음, 2H남음, 2TB짜리 stay, and so do 7H standing for 개 alone and 7H새끼). Drawings that draw two letters read as one: 7 is ㄱ
    (also ㅋ's drawing), 77 is ㄲ (so 각가 drawn 7F77F reads 가까)."""

    def read(match: re.Match) -> str:
        run, start, end = match.group(0), match.start(), match.end()
        before, after = text[start - 1 : start], text[end : end + 1]
        if any(c.isascii() and c.isalnum() for c in before + after):
            return run
        touches = bool(_HANGUL.match(before) or _HANGUL.match(after))
        drawn = bool(re.search(r"[0-9^]", run))  # a digit or ^ among letters: drawn, not written
        if run.isupper() and not drawn and not _HANGUL.match(before):  # an acronym: LH공사, CF광고
            return run
        if re.search("[FHTl]", run):  # a vowel other than the dash
            if not (touches or drawn):
                return run
        elif not (touches and drawn) or _SMILEY.fullmatch(run):  # the dash alone: E-스포츠, o-o, ^-^
            return run
        reading = _read_drawn_syllables(run)
        if reading is None or _ADDRESS.search(_token_around(text, start, end)):
            return run
        # One syllable is how ordinary text writes a number and a unit (7F 매장, 2H 남음, 2TB 외장하드,
        # 7F에서, 2H남음): read it inside or at the end of a Hangul word (개^H끼, 귀엽CF), or starting
        # one when drawn with a symbol (^^-레기); a number first is a number (7H새끼 stays, unread).
        if len(reading) == 1 and not _HANGUL.match(before):
            if not (_HANGUL.match(after) and "^" in run):
                return run
        return reading

    return _LATIN_RUN.sub(read, text)


def compose(text: str) -> str:
    """Typed letters that form syllables, composed into them (see the module docstring)."""
    if not _TYPED_LETTERS.search(text):  # most comments: nothing to compose
        return text
    out, i, n = [], 0, len(text)

    def at(k: int) -> str:
        return text[k] if k < n else "\0"  # past the end: a character in no letter table

    while i < n:
        char = text[i]
        # Not inside a run of one letter (ㅋㅋㅠㅠ: laughing, then crying; not ㅋ + 큐 + ㅠ), nor a face
        # drawn with a vowel on each side (ㅜㅇㅜ, ㅠㅅㅠ).
        laughing_or_crying = (bool(out) and out[-1] in (char, at(i + 1))) or at(i + 2) == at(i + 1)
        if char in INITIALS and at(i + 1) in VOWELS and not laughing_or_crying:
            vowel, final, step = text[i + 1], "", 2
            after = at(i + 2)
            # A final consonant only when no vowel follows it (then it starts the next syllable), and
            # not the first of a run of it that no vowel ends (ㅇㅏㅋㅋㅋ is 아ㅋㅋㅋ; ㅂㅏㄱㄱㅏ is 박가).
            starts_a_run = at(i + 3) == after and at(i + 4) not in VOWELS
            if after in FINALS[1:] and at(i + 3) not in VOWELS and not starts_a_run:
                final, step = after, 3
            out.append(join_syllable(char, vowel, final))
            i += step
        else:
            out.append(char)
            i += 1
    return "".join(out)


def bound_repeats(text: str) -> str:
    text = _REPEATS.sub(lambda m: m.group(1) * 3, text)
    # 시이이이발 -> 시이발: more than one extra ㅇ+vowel syllable after a syllable with that vowel.
    out = []
    for char in text:
        if is_syllable(char) and len(out) >= 2 and is_syllable(out[-1]) and is_syllable(out[-2]):
            initial, vowel, final = split_syllable(char)
            before, last = split_syllable(out[-2]), split_syllable(out[-1])
            drawn = initial == "ㅇ" and not final and last == ("ㅇ", vowel, "") and before[1] == vowel
            if drawn and not before[2]:
                continue
        out.append(char)
    return "".join(out)


_FUNCTIONS = {
    "width": width, "invisible": remove_invisible, "latin": latin, "compose": compose, "repeats": bound_repeats,
}  # fmt: skip


def check_steps(steps: Sequence[str], source: str = "canonical form") -> tuple[str, ...]:
    unknown = [s for s in steps if s not in STEPS]
    if unknown:
        raise InvalidInput(f"{source}: unknown canonical-form step {unknown[0]!r}; known: {', '.join(STEPS)}")
    return tuple(s for s in STEPS if s in steps)  # always applied in STEPS order


def canonical(text: str, steps: Sequence[str] = STEPS) -> str:
    """`text` with the given steps applied, in STEPS order."""
    for step in check_steps(steps):
        text = _FUNCTIONS[step](text)
    return text


def canonical_all(texts: Sequence[str], steps: Sequence[str] = STEPS) -> list[str]:
    steps = check_steps(steps)
    return [canonical(t, steps) for t in texts] if steps else list(texts)
