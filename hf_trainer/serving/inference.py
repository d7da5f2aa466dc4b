"""Label new comments with a trained ensemble (or a single member).

from hf_trainer import Ensemble
ens = Ensemble.from_pretrained("outputs/ensemble")      # or a Hub id
ens.predict(["댓글 하나", "댓글 둘"])
"""

from __future__ import annotations

import collections
import logging
import os
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

import numpy as np

from ..members import TRANSFORMER, Member, folder_info, folder_kind, load_members
from ..selection.ensemble import ENSEMBLE_FILE, EnsembleSpec
from ..utils.errors import InputNotFound, InvalidArgument, InvalidInput

BACKENDS = ("torch", "onnx")

logger = logging.getLogger(__name__)


def _resolve_folder(path_or_hub_id: str, revision: str | None = None) -> Path:
    """A local folder as is; a Hub id is fetched (ensemble.json only) to the local cache."""
    if Path(path_or_hub_id).is_dir():
        return Path(path_or_hub_id)
    from huggingface_hub import hf_hub_download

    try:
        return Path(hf_hub_download(path_or_hub_id, ENSEMBLE_FILE, revision=revision)).parent
    except Exception as err:
        raise InputNotFound(
            f"'{path_or_hub_id}' is neither a local folder nor a reachable Hub repository with {ENSEMBLE_FILE} "
            f"({type(err).__name__}). Check the path (an ensemble folder holds {ENSEMBLE_FILE}; a trained "
            "member folder holds config.json) or the Hub id and your network."
        ) from err


def one_member_spec(member_dir: Path) -> EnsembleSpec:
    """One trained member's folder as a one-member ensemble: labels from its member.json (or, for a
    folder from before that file, its config.json), weight 1, thresholds 0.5."""
    info = folder_info(member_dir)
    labels = info.labels if info is not None else []
    member = {"name": member_dir.name, "path": ".", "hub_id": None, "weight": 1.0}
    return EnsembleSpec(labels=labels, members=[member], objective="none", objective_value=float("nan"))


class Ensemble:
    """Members mixed by `EnsembleSpec.mix` (temperatures, then weights), per-label thresholds on top."""

    def __init__(self, members: Sequence[Member], spec: EnsembleSpec) -> None:
        if len(members) != len(spec.members):
            raise InvalidInput(f"{len(members)} members for the {len(spec.members)} of the ensemble's spec")
        self.members = list(members)
        self.spec = spec
        self.backend = "torch"  # what serves the transformer members (from_pretrained's backend)
        self.labels = list(spec.labels)
        self.thresholds = np.asarray(
            spec.thresholds if spec.thresholds is not None else [0.5] * len(self.labels), dtype=np.float64
        )
        for entry, member in zip(spec.members, self.members, strict=True):
            if member.labels != self.labels:
                raise InvalidInput(
                    f"member '{entry.get('name')}' predicts labels {member.labels}, the ensemble expects {self.labels}"
                )

    @property
    def weights(self) -> np.ndarray:
        """The member weights of ensemble.json (read-only: `spec.mix` applies them)."""
        return self.spec.weights

    @classmethod
    def from_pretrained(
        cls,
        path_or_hub_id: str | os.PathLike,
        *,
        device: str | None = None,
        max_length: int = 128,
        trust_remote_code: bool = False,
        revision: str | None = None,
        backend: str = "torch",
        half_precision: bool | None = None,
    ) -> Ensemble:
        """Load `ensemble.json` and its members (local folders beside it, else their Hub ids).

        Transformer members load as in training (`modeling.resolve_weights`): safetensors when the
        folder or repository has them, else a .bin file through torch's weights_only loader, never
        pickled code. Remote code runs only with `trust_remote_code=True`.

        `backend="onnx"` serves the transformer members from the ONNX copies that recipes/export.py
        wrote and checked (`onnx/` in a local ensemble folder; int8 when exported and valid, else fp32)
        on ONNX Runtime's CPU provider; a char n-gram member is the same on both backends. With the
        torch backend on CUDA, members run in fp16 autocast unless `half_precision=False`.
        """
        if backend not in BACKENDS:
            raise InvalidArgument(f"backend must be one of {', '.join(BACKENDS)}, got {backend!r}")
        if backend == "onnx":
            check_onnx_source(path_or_hub_id, device)
        folder = _resolve_folder(str(path_or_hub_id), revision)
        if not (folder / ENSEMBLE_FILE).is_file() and (folder / "config.json").is_file():
            spec = one_member_spec(folder)
            if backend == "onnx" and folder_kind(folder) == TRANSFORMER:
                raise InvalidArgument(
                    f"{folder}: the ONNX backend serves an exported ensemble folder, and this is one model's "
                    f"folder; make it a one-member ensemble first (python recipes/ensemble.py --members {folder} "
                    "--output_dir DIR, then recipes/thresholds.py and recipes/export.py --ensemble_dir DIR)"
                )
        else:
            spec = EnsembleSpec.load(folder)
        members = load_members(
            folder, spec, backend, device=device, max_length=max_length, half_precision=half_precision,
            trust_remote_code=trust_remote_code,
        )  # fmt: skip
        ensemble = cls(members, spec)
        ensemble.backend = backend
        return ensemble

    def predict_proba(self, texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
        """Ensemble probabilities (float64), shape (len(texts), num_labels).

        Members are mixed in float64 by the same `EnsembleSpec.mix` (temperatures, then weights) that
        the thresholds were tuned on. With the torch backend in fp32 the thresholds meet the scores
        they were tuned on; with fp16 or an ONNX copy, the scores differ by a small amount
        (onnx/export.json measures how much for the ONNX copies).
        """
        texts = [_clean(t) for t in texts]
        if not texts:
            return np.zeros((0, len(self.labels)), dtype=np.float64)
        # A member of weight 0 cannot move the mix (0 x any finite score adds exactly 0): not run,
        # unless it is the mention gate, which has weight 0 and acts after the mix.
        idle = np.full((len(texts), len(self.labels)), 0.5, dtype=np.float32)
        gate = self.spec.gate_index if self.spec.gate_acts else None
        return self.spec.mix([
            member.predict_proba(texts, batch_size) if weight != 0 or i == gate else idle
            for i, (member, weight) in enumerate(zip(self.members, self.weights, strict=True))
        ])  # fmt: skip

    def predict(self, texts: Sequence[str], batch_size: int = 64) -> list[dict]:
        """Per comment: every label's score and the labels at or over their thresholds."""
        from ..metrics.multilabel import binarize

        probs = self.predict_proba(texts, batch_size)
        return [
            {
                "scores": {name: round(float(p), 6) for name, p in zip(self.labels, row, strict=True)},
                "labels": [name for name, on in zip(self.labels, decisions, strict=True) if on],
            }
            for row, decisions in zip(probs, binarize(probs, self.thresholds), strict=True)
        ]

    def explain(
        self, texts: Sequence[str], labels: Sequence[str] | None = None, top_k: int = 3, batch_size: int = 64
    ) -> list[dict]:
        """Per comment, per decided label (or `labels`): its score, threshold, and the `top_k` spans of
        the comment that raise it most, each with character offsets, text and weight (the score
        lost without it). Occlusion of this ensemble's own score: hf_trainer/serving/explain.py."""
        from .explain import explain

        return explain(self, texts, labels, top_k, batch_size)

    def predict_stream(
        self, texts: Iterable[str], chunk_size: int = 1024, batch_size: int = 64
    ) -> Iterator[dict]:
        """`predict` over an iterable of any length, holding one chunk in memory at a time."""
        chunk: list[str] = []
        for text in texts:
            chunk.append(text)
            if len(chunk) >= chunk_size:
                yield from self.predict(chunk, batch_size)
                chunk = []
        if chunk:
            yield from self.predict(chunk, batch_size)


def predict_records(ensemble: Ensemble, texts: Iterable[str], *, chunk_size: int = 1024, batch_size: int = 64,
                    with_text: bool = True, explain: bool = False, top_k: int = 3) -> Iterator[dict]:  # fmt: skip
    """The JSON record of each comment, in input order, as `predict.py` writes one per line: the line
    number, the comment (unless `with_text` is False), every label's score, the decided labels, and
    with `explain` the spans behind each decided label (`Ensemble.explain`). Streams `texts`."""
    kept: collections.deque[str] = collections.deque()

    def remember() -> Iterator[str]:
        for text in texts:
            kept.append(text)
            yield text

    for line, result in enumerate(ensemble.predict_stream(remember(), chunk_size, batch_size), start=1):
        text = kept.popleft()
        record = {"line": line} | ({"text": text} if with_text else {}) | result
        if explain:
            # The record's own labels: scored alone, an int8 copy's score near a threshold could decide
            # otherwise than in its batch, and an explanation must cover the labels the record gives.
            (explained,) = ensemble.explain(
                [text], labels=result["labels"], top_k=top_k, batch_size=batch_size
            )
            record["explanations"] = {name: entry["spans"] for name, entry in explained.items()}
        yield record


def check_onnx_source(path_or_hub_id, device) -> None:
    """The ONNX backend serves a local exported folder on the CPU: a Hub id is refused, a GPU device said
    to go unused."""
    if not Path(path_or_hub_id).is_dir():
        raise InvalidArgument(
            f"{path_or_hub_id}: the ONNX backend serves a local ensemble folder that recipes/export.py wrote "
            "ONNX copies into (they are not published to the Hub); export a local folder first"
        )
    if device is not None and str(device) != "cpu":
        logger.warning("The ONNX copies run on ONNX Runtime's CPU provider; device %s is not used", device)


def _clean(text: str) -> str:
    """Never crash on odd input: None becomes empty; NUL and other C0 controls become spaces."""
    if text is None:
        return ""
    text = str(text)
    return "".join(" " if (ord(c) < 32 and c not in "\t\n") or c == "\x7f" else c for c in text)
