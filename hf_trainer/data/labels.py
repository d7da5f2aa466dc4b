"""The label schema: one place that says which labels exist and in which order."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ..utils.errors import InvalidArgument

# UnSmile's ten labels, in the column order of the released TSVs (Korean names kept as in the data).
UNSMILE_LABELS: tuple[str, ...] = (
    "여성/가족",
    "남성",
    "성소수자",
    "인종/국적",
    "연령",
    "지역",
    "종교",
    "기타 혐오",
    "악플/욕설",
    "clean",
)
UNSMILE_CLEAN = "clean"  # no hate and no abuse
UNSMILE_ABUSE = "악플/욕설"  # abuse or profanity: not hate
# The eight hate labels: the seven target groups and 기타 혐오 (everything but abuse and clean).
UNSMILE_HATE_LABELS: tuple[str, ...] = tuple(
    n for n in UNSMILE_LABELS if n not in (UNSMILE_ABUSE, UNSMILE_CLEAN)
)
UNSMILE_TEXT_COLUMN = "문장"
UNSMILE_TRAIN_FILE = "unsmile_train_v1.0.tsv"
UNSMILE_VALID_FILE = "unsmile_valid_v1.0.tsv"
UNSMILE_HUB_DATASET = "smilegate-ai/kor_unsmile"


@dataclass(frozen=True)
class LabelSchema:
    """Ordered label names plus the mappings a model config needs."""

    names: tuple[str, ...] = UNSMILE_LABELS

    def __post_init__(self) -> None:
        if not self.names:
            raise InvalidArgument("a label schema needs at least one label")
        duplicates = sorted({n for n in self.names if self.names.count(n) > 1})
        if duplicates:
            raise InvalidArgument(f"duplicate label names: {duplicates}")
        if any(not n.strip() for n in self.names):
            raise InvalidArgument("label names must be non-empty")

    @classmethod
    def from_names(cls, names: Sequence[str]) -> LabelSchema:
        return cls(tuple(n.strip() for n in names))

    @classmethod
    def from_comma_list(cls, text: str) -> LabelSchema:
        return cls.from_names([n for n in text.split(",") if n.strip()])

    @property
    def num_labels(self) -> int:
        return len(self.names)

    @property
    def id2label(self) -> dict[int, str]:
        return dict(enumerate(self.names))

    @property
    def label2id(self) -> dict[str, int]:
        return {name: i for i, name in enumerate(self.names)}

    def index(self, name_or_id: str) -> int:
        """Resolve a label given by name or by integer id (as written in a TSV cell)."""
        key = name_or_id.strip()
        if key in self.label2id:
            return self.label2id[key]
        if key.lstrip("-").isdigit():
            idx = int(key)
            if 0 <= idx < self.num_labels:
                return idx
        raise KeyError(key)
