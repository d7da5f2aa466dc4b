"""Neutral names of the groups UnSmile's hate labels target, and blinding a text to them.

A model that learns "group name -> group label" is right on most of UnSmile, where a group is seldom
named without hate, and wrong on every neutral mention. A model that never sees the neutral names
must judge hate from the rest of the comment ("identity-term blindness", Garg et al. 2019,
"Counterfactual fairness in text classification through robustness"); the ensemble's mention gate
(hf_trainer.selection.mention_gate) uses such a member.

`group_names.tsv` (label, term): 557 neutral or standard words for the eight hate labels' groups,
written for this project from general knowledge of Korean by a writer who read neither the
functional suites nor the data. No slurs: a slur is hateful by itself and stays visible. Terms of one
syllable, and words often found inside unrelated words (주부 in 이번주부터, 인도 in 인도적), are left
out; a few that remain can still match inside longer words (게이 in 게이트).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from pathlib import Path

from ..utils.errors import InvalidInput
from ..utils.io import read_table
from .labels import UNSMILE_HATE_LABELS

GROUP_NAMES_FILE = Path(__file__).with_name("group_names.tsv")
HEADER = ("label", "term")
# What a blinded name becomes: a word that names nobody in particular, so the sentence stays a sentence.
PLACEHOLDER = "사람"


def read_group_names(path: str | Path = GROUP_NAMES_FILE) -> dict[str, str]:
    """term -> label from a TSV with the header `label<TAB>term`; a bad row stops with its file, line
    and column."""
    names: dict[str, str] = {}
    for number, row in read_table(path, HEADER, "group-name list"):
        label, term = row["label"].strip(), row["term"].strip()
        if label not in UNSMILE_HATE_LABELS:
            raise InvalidInput(f"{path}, line {number}, column 1: {label!r} is not a hate label")
        if len(term) < 2:
            raise InvalidInput(f"{path}, line {number}, column 2: {term!r} is shorter than two characters")
        if names.get(term, label) != label:
            raise InvalidInput(f"{path}, line {number}, column 2: {term!r} is listed under two labels")
        names[term] = label
    if not names:
        raise InvalidInput(f"{path}: no group names")
    return names


def group_name_blinder(terms: Sequence[str]) -> Callable[[str], str]:
    """text -> the text with every occurrence of the terms replaced by PLACEHOLDER; where two terms
    overlap the longest wins (전라도 사람 is one match, not 전라도 and a leftover)."""
    if not terms:
        return lambda text: text
    pattern = re.compile("|".join(re.escape(t) for t in sorted(terms, key=len, reverse=True)))
    return lambda text: pattern.sub(PLACEHOLDER, text)


def default_group_names() -> tuple[str, ...]:
    """The terms of the shipped list, in file order."""
    return tuple(read_group_names())
