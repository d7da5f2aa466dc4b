"""A transformer member served from its ONNX copy on ONNX Runtime's CPU provider. It answers
exactly like the torch member (the same tokenizer, batching and sigmoid), so callers never branch.

The copies live inside the ensemble folder (written and checked by `hf_trainer.serving.export`):
    onnx/export.json              what was exported, the agreement figures, which copy is valid
    onnx/<member>/model.onnx      fp32
    onnx/<member>/model.int8.onnx int8 (--quantize int8)
The tokenizers stay in the member folders; a char n-gram member has no ONNX copy.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType
from typing import ClassVar

import numpy as np

from ..utils import io
from ..utils.errors import InputNotFound, InvalidInput, UserError
from .base import predict_in_length_order, recorded_canonical_form
from .transformer import encode

logger = logging.getLogger(__name__)

ONNX_DIR = "onnx"
EXPORT_FILE = "export.json"
FILES = {"fp32": "model.onnx", "int8": "model.int8.onnx"}
INSTALL_HINT = 'pip install -e ".[onnx]" (onnxruntime, onnx and onnxscript)'


class MissingDependency(UserError, ImportError):
    """An optional package that the asked-for feature needs is not installed."""


def require_onnxruntime() -> ModuleType:
    """The onnxruntime module, or one line saying how to install it."""
    try:
        import onnxruntime
    except ImportError:
        raise MissingDependency(
            f"The ONNX backend needs ONNX Runtime, which is not installed: {INSTALL_HINT}"
        ) from None
    return onnxruntime


class OnnxMember:
    """An exported transformer member: its tokenizer, an ONNX Runtime session for the logits."""

    kind: ClassVar[str] = "transformer"  # the same member as its torch original, on another runtime

    def __init__(
        self,
        path: str | Path,
        tokenizer,
        labels: Sequence[str],
        max_length: int = 128,
        threads: int | None = None,
        canonical_form: Sequence[str] = (),
    ) -> None:
        ort = require_onnxruntime()
        options = ort.SessionOptions()
        if threads:
            options.intra_op_num_threads = threads
        self.path = Path(path)
        if not self.path.is_file():
            raise InputNotFound(f"{path} not found: export the ensemble again (recipes/export.py)")
        self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        self.input_names = [i.name for i in self.session.get_inputs()]
        # The file carries no label names; its logits width is what can be checked against them.
        width = self.session.get_outputs()[0].shape[-1]
        if isinstance(width, int) and width != len(labels):
            raise InvalidInput(
                f"{path}: the copy gives {width} logits, the ensemble has {len(labels)} labels"
            )
        self.tokenizer, self.labels, self.max_length = tokenizer, list(labels), max_length
        self.canonical_form = tuple(canonical_form)  # its torch original's (member.json)

    @classmethod
    def load(
        cls, path: Path, source: str, labels: Sequence[str], *, trust_remote_code: bool = False,
        max_length: int = 128, **_torch_options,
    ) -> OnnxMember:  # fmt: skip
        """The copy at `path`, with the tokenizer of the member folder or Hub id `source` (loaded as
        the torch member loads it: remote code only when asked)."""
        from transformers import AutoTokenizer

        logger.info("Member %s: ONNX Runtime, %s", path.parent.name, path)
        tokenizer = AutoTokenizer.from_pretrained(source, trust_remote_code=trust_remote_code)
        return cls(path, tokenizer, labels, max_length, canonical_form=recorded_canonical_form(source))

    def predict_proba(self, texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
        return predict_in_length_order(
            texts, batch_size, len(self.labels), self._score_batch, self.canonical_form
        )

    def _score_batch(self, texts: list[str]) -> np.ndarray:
        from ..metrics.multilabel import sigmoid

        return sigmoid(self.logits(encode(self.tokenizer, texts, self.max_length, "np")))

    def logits(self, encoded) -> np.ndarray:
        feed = {name: np.asarray(encoded[name], dtype=np.int64) for name in self.input_names}
        return self.session.run(["logits"], feed)[0]

    def save(self, folder: str | Path) -> None:
        raise InvalidInput("an ONNX copy is written by recipes/export.py, not saved as a member folder")


def read_export(ensemble_dir: str | Path) -> dict:
    path = Path(ensemble_dir) / ONNX_DIR / EXPORT_FILE
    if not path.is_file():
        raise InputNotFound(
            f"{path} not found: export the ensemble first (python recipes/export.py --ensemble_dir {ensemble_dir})"
        )
    return io.read_json(path)


def served_variant(export: dict, source: str) -> str:
    """The copy the ONNX backend serves: int8 when it was exported and passed the check, else fp32."""
    valid = export.get("valid", {})
    for variant in ("int8", "fp32"):
        if valid.get(variant):
            return variant
    checks = export.get("checks", {})
    raise InvalidInput(
        f"{source}: no exported copy passed the agreement check (at least {export.get('min_agreement')} of the "
        f"decisions equal to the PyTorch backend's; measured {checks}). Serve with backend='torch', or export again."
    )


# The files that decide a tokenizer's ids, whichever of them a member folder has.
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.txt", "vocab.json",
                   "merges.txt", "sentencepiece.bpe.model", "spiece.model")  # fmt: skip


def tokenizer_digest(member_dir: Path) -> str:
    """One digest of a member folder's tokenizer files (their names and SHA-256)."""
    return io.digest(
        *[(n, io.sha256_file(member_dir / n)) for n in TOKENIZER_FILES if (member_dir / n).is_file()]
    )


def check_tokenizers(export: dict, source: str, member_dirs: dict[str, Path | None]) -> None:
    """The ONNX copies read token ids from their members' tokenizers as they are now: refuse one whose
    tokenizer is not the one exported with (the member retrained from another base model, say)."""
    recorded = export.get("tokenizer_digest") or {}  # exports before it was recorded: nothing to compare
    for name, member_dir in member_dirs.items():
        if name in recorded and member_dir is not None and member_dir.is_dir():
            if tokenizer_digest(member_dir) != recorded[name]:
                raise InvalidInput(
                    f"{source}: the tokenizer in {member_dir} is not the one {name} was exported with (the member "
                    "changed after the export); export again (recipes/export.py)"
                )


def served_files(
    folder: Path, names: Sequence[str], member_dirs: dict[str, Path | None] | None = None
) -> dict[str, Path]:
    """Member name -> the checked ONNX copy the backend serves for each of `names` (the ensemble's
    transformer members), after checking that the export matches ensemble.json, every copy's bytes and
    the tokenizer of each member folder in `member_dirs`."""
    from ..selection.ensemble import ENSEMBLE_FILE

    export = read_export(folder)
    source = str(folder / ONNX_DIR / EXPORT_FILE)
    check_tokenizers(export, source, member_dirs or {})
    if export.get("ensemble_json_sha256") != io.sha256_file(folder / ENSEMBLE_FILE):
        raise InvalidInput(
            f"{source}: ensemble.json changed after the export; export again (recipes/export.py)"
        )
    missing = [name for name in names if name not in export.get("members", {})]
    if missing:
        raise InvalidInput(
            f"{source}: no ONNX copy of {', '.join(missing)}; export again (recipes/export.py)"
        )
    variant = served_variant(export, source)
    served = {name: folder / ONNX_DIR / name / FILES[variant] for name in names}
    checksums = export.get("sha256")
    if not isinstance(checksums, dict):
        raise InvalidInput(
            f"{source}: made before exports recorded each copy's SHA-256; export again (recipes/export.py)"
        )
    for name, path in served.items():
        recorded = (checksums.get(name) or {}).get(variant)
        if not path.is_file() or recorded != io.sha256_file(path):
            raise InvalidInput(
                f"{path}: missing, or not the copy whose decisions were checked (its SHA-256 differs from "
                f"{source}); export again (recipes/export.py)"
            )
    logger.info("ONNX backend: serving the %s copies from %s", variant, folder / ONNX_DIR)
    return served
