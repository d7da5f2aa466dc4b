"""Why a comment was flagged: which spans of its text drive the ensemble's score for a label.

The method is occlusion, faithful by construction: the comment is scored again with one span taken
out, for every span, and a span's weight for a label is the score the comment loses without it
(negative: the score rises without it). Spans are the words (space-separated units) and, inside a
word of four or more characters, each pair of neighbouring characters (시발놈아 -> 시발, 발놈, 놈아), so
a slur glued to a particle or to another word is found. Spans are made of whole characters and
never split a character from the marks that belong to it (combining marks, emoji modifiers and
joiners), so a Hangul syllable or an emoji is never cut in half.

What is explained is the ensemble's own score for the label (every member with its weight and
temperature, each in the canonical form it was trained with), on whichever backend serves it:
the rescored variants go through the same `Ensemble.predict_proba`, and the offsets are those of the
text as given (the canonical form is applied to each variant, never to the offsets).

Cost: one batch of (number of spans) variants per comment: one per word and one per pair of
characters inside long words, about 60 for a 20-word comment, never more than MAX_SPANS (the
benchmark's `explain` item times it per backend).
"""

from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np

from ..utils.errors import InvalidArgument

logger = logging.getLogger(__name__)

SUB_SPAN_MIN_WORD = 4  # words of at least this many characters also get two-character spans
SUB_SPAN_WIDTH = 2
MAX_SPANS = 400  # a longer comment (about 1,000 characters) is explained by its words only
TOP_K = 3
_WORD = re.compile(r"\S+")


@dataclass(frozen=True)
class Span:
    start: int  # character offsets in the text as given: text[start:end]
    end: int
    text: str
    weight: float  # the label's score minus its score without the span


def _joins_previous(char: str) -> bool:
    """True for a character that belongs to the one before it (never the start of a span)."""
    code = ord(char)
    return (
        unicodedata.combining(char) != 0
        or unicodedata.category(char) in ("Mn", "Me", "Mc")
        or code == 0x200D  # zero-width joiner
        or 0xFE00 <= code <= 0xFE0F  # variation selectors
        or 0x1F3FB <= code <= 0x1F3FF  # skin-tone modifiers
        or 0x1160 <= code <= 0x11FF  # conjoining vowels and finals of a decomposed syllable
        or 0xE0020 <= code <= 0xE007F  # tag characters of flag sequences
    )


def _regional(char: str) -> bool:
    return 0x1F1E6 <= ord(char) <= 0x1F1FF  # the letters of a flag: two of them make one


def character_starts(text: str, start: int, end: int) -> list[int]:
    """Offsets in text[start:end] where a user-perceived character begins (a flag's two letters,
    an emoji and its modifiers or joined emoji, a letter and its marks stay one character)."""
    starts: list[int] = []
    pending_flag = False  # the previous character opened a flag
    for i in range(start, end):
        char = text[i]
        joined = i > start and (_joins_previous(char) or text[i - 1] == "\u200d")
        if _regional(char) and pending_flag:
            joined, pending_flag = True, False
        else:
            pending_flag = _regional(char)
        if not joined:
            starts.append(i)
    return starts


def candidate_spans(text: str) -> list[tuple[int, int]]:
    """The spans occlusion tries: every word, and inside words of SUB_SPAN_MIN_WORD or more
    characters every run of SUB_SPAN_WIDTH neighbouring characters. Past MAX_SPANS (comments of
    several hundred characters), long words are cut into consecutive pieces wide enough to stay
    under it instead; past that again, words alone; and past MAX_SPANS words, runs of neighbouring
    words: never more than MAX_SPANS rescorings."""
    words = [(m.start(), m.end()) for m in _WORD.finditer(text)]
    long = [(start, [*character_starts(text, start, end), end]) for start, end in words]
    long = [bounds for _, bounds in long if len(bounds) - 1 >= SUB_SPAN_MIN_WORD]
    pairs = [(b[i], b[i + SUB_SPAN_WIDTH]) for b in long for i in range(len(b) - SUB_SPAN_WIDTH)]
    if len(words) + len(pairs) <= MAX_SPANS:
        return words + pairs
    if len(words) > MAX_SPANS:  # hundreds of words: runs of neighbouring words, at most MAX_SPANS
        size = -(-len(words) // MAX_SPANS)
        return [(words[i][0], words[min(i + size, len(words)) - 1][1]) for i in range(0, len(words), size)]
    room = MAX_SPANS - len(words)
    width = SUB_SPAN_WIDTH
    # The narrowest consecutive pieces that fit (each word rounds its own count up), never a whole word.
    while sum(-(-(len(b) - 1) // width) for b in long if len(b) - 1 > width) > room:
        width += 1
        if width >= max(len(b) - 1 for b in long):
            return words
    pieces = [
        (b[i], b[min(i + width, len(b) - 1)])
        for b in long
        if len(b) - 1 > width
        for i in range(0, len(b) - 1, width)
    ]
    return words + pieces


def without(text: str, start: int, end: int) -> str:
    """The text with [start, end) taken out; a whole word takes one neighbouring space with it."""
    before, after = text[:start], text[end:]
    if before.endswith(" ") and (after.startswith(" ") or not after):
        before = before[:-1]
    elif not before and after.startswith(" "):
        after = after[1:]
    return before + after


def only(text: str, spans: Sequence[tuple[int, int]]) -> str:
    """The text reduced to the given spans, in text order, joined by spaces (ERASER's sufficiency)."""
    return " ".join(text[s:e] for s, e in sorted(spans))


def pick_spans(spans: Sequence[tuple[int, int]], weights: np.ndarray, top_k: int) -> list[int]:
    """Indices of up to top_k spans of positive weight, largest first, none overlapping one chosen
    before it (a word and a pair of its characters are not both shown)."""
    chosen: list[int] = []
    for i in np.argsort(-weights, kind="stable"):
        if weights[i] <= 0 or len(chosen) == top_k:
            break
        start, end = spans[i]
        if all(end <= spans[j][0] or start >= spans[j][1] for j in chosen):
            chosen.append(int(i))
    return chosen


def occlusion(
    ensemble, text: str, base: np.ndarray, batch_size: int = 64
) -> tuple[list[tuple[int, int]], np.ndarray]:
    """The candidate spans of `text` and, per span and label, the score the text loses without the
    span (`base`: the text's own scores), rescored by the ensemble in one batch."""
    spans = candidate_spans(text)
    if not spans:
        return spans, np.zeros((0, len(base)))
    return spans, base[None, :] - ensemble.predict_proba([without(text, s, e) for s, e in spans], batch_size)


def spans_json(text: str, spans: Sequence[tuple[int, int]], weights: np.ndarray, top_k: int) -> list[dict]:
    return [
        asdict(Span(spans[i][0], spans[i][1], text[spans[i][0] : spans[i][1]], round(float(weights[i]), 6)))
        for i in pick_spans(spans, weights, top_k)
    ]


def explain(ensemble, texts: Sequence[str], labels: Sequence[str] | None = None, top_k: int = TOP_K,
            batch_size: int = 64) -> list[dict]:  # fmt: skip
    """Per comment, per label (the decided ones, or `labels`): its score and threshold, whether it is
    decided, and up to `top_k` spans that raise its score most (see the module docstring)."""
    if top_k < 1:
        raise InvalidArgument(f"top_k must be at least 1, got {top_k}")
    if isinstance(labels, str):  # one label by name, not its characters
        labels = [labels]
    unknown = [name for name in labels or () if name not in ensemble.labels]
    if unknown:
        raise InvalidArgument(
            f"unknown label {unknown[0]!r}; the ensemble's labels: {', '.join(ensemble.labels)}"
        )
    texts = ["" if t is None else str(t) for t in texts]
    base = ensemble.predict_proba(texts, batch_size)
    index = {name: i for i, name in enumerate(ensemble.labels)}
    out = []
    for text, scores in zip(texts, base, strict=True):
        decided = scores >= ensemble.thresholds
        asked = list(labels) if labels is not None else [n for n in ensemble.labels if decided[index[n]]]
        spans, lost = occlusion(ensemble, text, scores, batch_size) if asked else ([], None)
        out.append({
            name: {
                "score": round(float(scores[index[name]]), 6),
                "threshold": round(float(ensemble.thresholds[index[name]]), 6),
                "decided": bool(decided[index[name]]),
                "spans": spans_json(text, spans, lost[:, index[name]], top_k) if spans else [],
            }
            for name in asked
        })  # fmt: skip
    return out


def explain_error_rows(ensemble, rows: Sequence[dict], top_k: int = TOP_K, batch_size: int = 64) -> None:
    """Adds `spans` to each row of `error_analysis.error_rows` that has a text: for a false positive
    the spans that raise the label's score most (what fired), for a false negative the spans that
    lower it most (what held it under the threshold), as `span (+weight); ...`. Each distinct text
    is rescored once."""
    index = {name: i for i, name in enumerate(ensemble.labels)}
    texts = list(dict.fromkeys(row["text"] for row in rows if row.get("text")))
    base = ensemble.predict_proba(texts, batch_size)  # (0, labels) when no row has a text
    occluded = {
        text: occlusion(ensemble, text, scores, batch_size) for text, scores in zip(texts, base, strict=True)
    }
    for row in rows:
        spans, lost = occluded.get(row.get("text"), ([], None))
        if not spans:
            row["spans"] = ""
            continue
        weights = lost[:, index[row["label"]]]
        sign = 1.0 if row["error"] == "false positive" else -1.0
        picked = pick_spans(spans, sign * weights, top_k)
        row["spans"] = "; ".join(
            f"{row['text'][spans[i][0] : spans[i][1]]} ({weights[i]:+.3f})" for i in picked
        )
