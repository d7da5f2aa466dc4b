"""What every ensemble member is: one small protocol, the file by which a member folder says what
it holds (`member.json`), and the length-sorted batching that every kind shares.

A member answers `predict_proba(texts, batch_size)` with float32 scores in input order, whatever it
is inside (a fine-tuned transformer on torch, its ONNX copy, a char n-gram model), so callers never
ask which kind they hold.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import ClassVar, Protocol

import numpy as np

from ..data.canonical import canonical_all, check_steps
from ..utils import io
from ..utils.errors import InvalidInput

MEMBER_FILE = "member.json"
MEMBER_FORMAT_VERSION = 1


class Member(Protocol):
    """The protocol of every member kind (see `registry` for the kinds)."""

    kind: ClassVar[str]  # a key of `registry.KINDS`, written to member.json and ensemble.json
    labels: list[str]

    def predict_proba(self, texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
        """Scores in [0, 1] (float32), shape (len(texts), len(labels)), in input order."""
        ...

    def save(self, folder: str | Path) -> None:
        """Write the member's files and its member.json into `folder`."""
        ...


@dataclass(frozen=True)
class MemberInfo:
    """The content of `member.json`: what the folder holds and what it was trained from."""

    kind: str
    labels: list[str]
    model: str | None = None  # the preset, Hub id or folder it was trained from
    # The canonical-form steps (hf_trainer/data/canonical.py) its training texts went through; serving
    # applies the same. A member.json without the field: a member trained before it, served without.
    canonical_form: tuple[str, ...] = ()
    format_version: int = MEMBER_FORMAT_VERSION

    def save(self, folder: str | Path) -> Path:
        path = Path(folder) / MEMBER_FILE
        io.write_json(path, asdict(self))
        return path

    @classmethod
    def read(cls, folder: str | Path) -> MemberInfo | None:
        """The folder's member.json, or None when it has none (a folder from before the file)."""
        path = Path(folder) / MEMBER_FILE
        if not path.is_file():
            return None
        data = io.read_json(path)
        if not isinstance(data, dict) or not isinstance(data.get("kind"), str):
            raise InvalidInput(f"{path}: not a member file (a JSON object with a 'kind' expected)")
        if data.get("format_version") != MEMBER_FORMAT_VERSION:
            raise InvalidInput(
                f"{path}: format_version {data.get('format_version')} is not supported ({MEMBER_FORMAT_VERSION})"
            )
        return cls(
            kind=data["kind"], labels=list(data.get("labels") or []), model=data.get("model"),
            canonical_form=check_steps(data.get("canonical_form") or (), str(path)),
            format_version=data["format_version"],
        )  # fmt: skip


def recorded_canonical_form(source: str | Path) -> tuple[str, ...]:
    """The canonical-form steps a member folder or Hub id records in its member.json (none when it
    has no member.json, or no such field: it was trained without them)."""
    folder = Path(str(source))
    if not folder.is_dir():
        from huggingface_hub import hf_hub_download
        from huggingface_hub.errors import EntryNotFoundError

        try:
            folder = Path(hf_hub_download(str(source), MEMBER_FILE)).parent
        except EntryNotFoundError:
            return ()
    info = MemberInfo.read(folder)
    return info.canonical_form if info else ()


def predict_in_length_order(
    texts: Sequence[str], batch_size: int, width: int, score_batch: Callable[[list[str]], np.ndarray],
    canonical_form: Sequence[str] = (),
) -> np.ndarray:  # fmt: skip
    """`score_batch` over batches of texts of similar length (each batch pads little), the scores put
    back in input order: float32, shape (len(texts), width). The texts are first put in the member's
    canonical form (`canonical_form`: the steps it was trained with), as in its training."""
    texts = canonical_all(texts, canonical_form)
    order = np.argsort([len(t) for t in texts], kind="stable")
    out = np.empty((len(texts), width), dtype=np.float32)
    for start in range(0, len(texts), batch_size):
        rows = order[start : start + batch_size]
        out[rows] = score_batch([texts[i] for i in rows])
    return out
