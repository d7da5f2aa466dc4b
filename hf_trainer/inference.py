"""Label new comments with a trained ensemble (or a single member).

from hf_trainer import Ensemble
ens = Ensemble.from_pretrained("outputs/ensemble")      # or a Hub id
ens.predict(["댓글 하나", "댓글 둘"])
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import BinaryIO

import numpy as np
import torch
from transformers import AutoTokenizer

from . import io
from .char_ngram import CONFIG_FILE as CHAR_NGRAM_CONFIG
from .char_ngram import WEIGHTS_FILE as CHAR_NGRAM_WEIGHTS
from .char_ngram import CharNgramClassifier
from .ensemble import ENSEMBLE_FILE, EnsembleSpec, is_char_ngram_member
from .errors import InputNotFound, InvalidArgument, InvalidInput
from .metrics import binarize, sigmoid
from .modeling import load_pretrained_classifier, resolve_weights
from .onnx_backend import EXPORT_FILE, FILES, ONNX_DIR, OnnxClassifier, read_export, served_variant

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


class Ensemble:
    """Weighted mean of member probabilities, per-label thresholds on top."""

    def __init__(
        self,
        models: Sequence[torch.nn.Module],
        tokenizers: Sequence,
        spec: EnsembleSpec,
        max_length: int = 128,
        device: str | torch.device | None = None,
        half_precision: bool | None = None,
    ) -> None:
        self.spec = spec
        self.labels = list(spec.labels)
        self.thresholds = np.asarray(
            spec.thresholds if spec.thresholds is not None else [0.5] * len(self.labels), dtype=np.float64
        )
        self.max_length = max_length
        self.device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        # fp16 autocast for the torch members on CUDA unless turned off; never on the CPU.
        self.half_precision = self.device.type == "cuda" and half_precision is not False
        # A torch member runs on the device; an ONNX or char-ngram member (tokenizer None) on the CPU.
        self.models = [
            m if isinstance(m, CharNgramClassifier | OnnxClassifier) else m.to(self.device).eval()
            for m in models
        ]
        self.tokenizers = list(tokenizers)
        for i, model in enumerate(self.models):
            if isinstance(model, CharNgramClassifier | OnnxClassifier):
                names = model.labels
            else:
                names = [model.config.id2label[j] for j in range(model.config.num_labels)]
            if names != self.labels:
                raise InvalidInput(f"member {i} predicts labels {names}, the ensemble expects {self.labels}")

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

        Member weights load as in training (`modeling.resolve_weights`): safetensors when the folder or
        repository has them, else a .bin file through torch's weights_only loader, never pickled code.
        Remote code runs only with `trust_remote_code=True`.

        `backend="onnx"` serves the transformer members from the ONNX copies that recipes/export.py
        wrote and checked (`onnx/` in a local ensemble folder; int8 when exported and valid, else fp32)
        on ONNX Runtime's CPU provider; a char n-gram member keeps its own path. With the torch
        backend on CUDA, members run in fp16 autocast unless `half_precision=False`.
        """
        if backend not in BACKENDS:
            raise InvalidArgument(f"backend must be one of {', '.join(BACKENDS)}, got {backend!r}")
        folder = _resolve_folder(str(path_or_hub_id), revision)
        if not (folder / ENSEMBLE_FILE).is_file() and (folder / "config.json").is_file():
            spec = EnsembleSpec.single_member(folder)  # one trained model folder: thresholds 0.5
            if backend == "onnx" and not is_char_ngram_member(spec.members[0], folder):
                raise InvalidArgument(
                    f"{folder}: the ONNX backend serves an exported ensemble folder, and this is one model's "
                    f"folder; make it a one-member ensemble first (python recipes/ensemble.py --members {folder} "
                    "--output_dir DIR, then recipes/thresholds.py and recipes/export.py --ensemble_dir DIR)"
                )
        else:
            spec = EnsembleSpec.load(folder)
        onnx_files = _onnx_files(folder, spec) if backend == "onnx" else {}
        loaded = [
            _load_member(member, local, trust_remote_code, onnx_files.get(member.get("name")), spec.labels)
            for member, local in zip(spec.members, spec.member_dirs(folder), strict=True)
        ]
        models, tokenizers = [m for m, _ in loaded], [t for _, t in loaded]
        return cls(
            models, tokenizers, spec, max_length=max_length, device=device, half_precision=half_precision
        )

    @torch.inference_mode()
    def _member_probs(self, index: int, texts: Sequence[str], batch_size: int) -> np.ndarray:
        model, tokenizer = self.models[index], self.tokenizers[index]
        if isinstance(model, CharNgramClassifier):
            return model.predict_proba(texts)
        onnx = isinstance(model, OnnxClassifier)
        # Sort by length so that each batch pads little; the result is put back in input order.
        order = np.argsort([len(t) for t in texts], kind="stable")
        out = np.empty((len(texts), len(self.labels)), dtype=np.float32)
        for start in range(0, len(texts), batch_size):
            rows = order[start : start + batch_size]
            batch = tokenizer(
                [texts[i] for i in rows],
                truncation=True,
                max_length=self.max_length,
                padding=True,
                return_tensors="np" if onnx else "pt",
            )
            if "token_type_ids" not in tokenizer.model_input_names:
                batch.pop("token_type_ids", None)
            if onnx:
                logits = model.logits(batch)
            else:
                with torch.autocast(self.device.type, dtype=torch.float16, enabled=self.half_precision):
                    logits = model(**batch.to(self.device)).logits.float().cpu().numpy()
            # The same sigmoid as the saved training predictions: in fp32 on the torch backend the
            # thresholds meet the scores they were tuned on. fp16 autocast and the ONNX copies move
            # the scores slightly (onnx/export.json measures how much; fp16's effect is unmeasured).
            out[rows] = sigmoid(logits)
        return out

    def predict_proba(self, texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
        """Ensemble probabilities (float64), shape (len(texts), num_labels).

        Members are mixed in float64 by the same `EnsembleSpec.mix` (temperatures, then weights) that
        the thresholds were tuned on. With the torch backend in fp32 the thresholds meet the scores
        they were tuned on; with fp16 or an ONNX copy, the scores differ by a small amount.
        """
        texts = [_clean(t) for t in texts]
        if not texts:
            return np.zeros((0, len(self.labels)), dtype=np.float64)
        return self.spec.mix([self._member_probs(i, texts, batch_size) for i in range(len(self.models))])

    def predict(self, texts: Sequence[str], batch_size: int = 64) -> list[dict]:
        """Per comment: every label's score and the labels at or over their thresholds."""
        probs = self.predict_proba(texts, batch_size)
        return [
            {
                "scores": {name: round(float(p), 6) for name, p in zip(self.labels, row, strict=True)},
                "labels": [name for name, on in zip(self.labels, decisions, strict=True) if on],
            }
            for row, decisions in zip(probs, binarize(probs, self.thresholds), strict=True)
        ]

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


def _onnx_files(folder: Path, spec: EnsembleSpec) -> dict[str, Path]:
    """Member name -> the ONNX file the backend serves (see onnx_backend.served_variant); empty when
    every member is a char n-gram model."""
    exported = [
        m["name"]
        for m, local in zip(spec.members, spec.member_dirs(folder), strict=True)
        if not is_char_ngram_member(m, local)
    ]
    if not exported:
        logger.info("ONNX backend: no transformer member; the char n-gram members keep their own path")
        return {}
    export = read_export(folder)
    source = str(folder / ONNX_DIR / EXPORT_FILE)
    if export.get("ensemble_json_sha256") != io.sha256_file(folder / ENSEMBLE_FILE):
        raise InvalidInput(
            f"{source}: ensemble.json changed after the export; export again (recipes/export.py)"
        )
    missing = [name for name in exported if name not in export.get("members", {})]
    if missing:
        raise InvalidInput(
            f"{source}: no ONNX copy of {', '.join(missing)}; export again (recipes/export.py)"
        )
    variant = served_variant(export, source)
    served = {name: folder / ONNX_DIR / name / FILES[variant] for name in exported}
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


def _load_member(
    member: dict,
    local: Path,
    trust_remote_code: bool,
    onnx_file: Path | None = None,
    labels: Sequence[str] | None = None,
) -> tuple:
    """(model, tokenizer) of one ensemble member: its local folder, else its Hub id; a char-ngram
    member has no tokenizer (None). With `onnx_file`, the model is that ONNX copy."""
    source = str(local) if member.get("path") and local.is_dir() else member.get("hub_id")
    if not source:
        raise InputNotFound(f"member '{member.get('name')}': {local} does not exist and it has no hub_id")
    if is_char_ngram_member(member, source):
        logger.info("Member %s: char-ngram from %s", member.get("name"), source)
        return CharNgramClassifier.load(_char_ngram_folder(source)), None
    if onnx_file is not None:
        if not onnx_file.is_file():
            raise InputNotFound(f"{onnx_file} not found: export the ensemble again (recipes/export.py)")
        logger.info("Member %s: ONNX Runtime, %s", member.get("name"), onnx_file)
        # The member's own tokenizer, loaded as the torch path loads it (remote code only when asked).
        return OnnxClassifier(onnx_file, labels), AutoTokenizer.from_pretrained(
            source, trust_remote_code=trust_remote_code
        )
    weights = resolve_weights(source)
    kwargs = dict(trust_remote_code=trust_remote_code, revision=weights.commit)
    logger.info("Member %s: %s", member.get("name"), weights.describe())
    return load_pretrained_classifier(source, weights, **kwargs), AutoTokenizer.from_pretrained(
        source, **kwargs
    )


def _char_ngram_folder(source: str) -> Path:
    """A local char-ngram member folder as is; a Hub one fetched (its three small files) to the cache."""
    if Path(source).is_dir():
        return Path(source)
    from huggingface_hub import snapshot_download

    return Path(
        snapshot_download(source, allow_patterns=[CHAR_NGRAM_CONFIG, CHAR_NGRAM_WEIGHTS, "config.json"])
    )


def read_lines(handle: BinaryIO) -> Iterator[str]:
    """Lines of a UTF-8 byte stream split on \\n only (a stray \\r inside a comment stays in it, so
    line N of the output is line N of the input); a CRLF line end loses its \\r."""
    for raw in handle:
        line = raw[:-1] if raw.endswith(b"\n") else raw
        line = line[:-1] if line.endswith(b"\r") else line
        yield line.decode("utf-8", errors="replace")


def read_tsv_column(handle: BinaryIO, column_name: str, source: str) -> Iterator[str]:
    """The cells of one column of a TSV with a header (lines split as in `read_lines`)."""
    lines = read_lines(handle)
    header = next(lines, "").split("\t")
    if column_name not in header:
        raise InvalidInput(f"{source}, line 1: no column '{column_name}' in the header {header}")
    column = header.index(column_name)
    for number, line in enumerate(lines, start=2):
        fields = line.split("\t")
        if column >= len(fields):
            raise InvalidInput(
                f"{source}, line {number}, column {column + 1} ('{column_name}'): the row has only {len(fields)} fields"
            )
        yield fields[column]


def _clean(text: str) -> str:
    """Never crash on odd input: None becomes empty; NUL and other C0 controls become spaces."""
    if text is None:
        return ""
    text = str(text)
    return "".join(" " if (ord(c) < 32 and c not in "\t\n") or c == "\x7f" else c for c in text)
