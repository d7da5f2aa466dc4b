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

import numpy as np
import torch
from transformers import AutoModelForSequenceClassification, AutoTokenizer

from .ensemble import ENSEMBLE_FILE, EnsembleSpec

logger = logging.getLogger(__name__)


def _resolve_folder(path_or_hub_id: str, revision: str | None = None) -> Path:
    """A local folder as is; a Hub id is fetched (ensemble.json only) to the local cache."""
    if Path(path_or_hub_id).is_dir():
        return Path(path_or_hub_id)
    from huggingface_hub import hf_hub_download

    try:
        return Path(hf_hub_download(path_or_hub_id, ENSEMBLE_FILE, revision=revision)).parent
    except Exception as err:
        raise OSError(
            f"'{path_or_hub_id}' is neither a local folder nor a reachable Hub repository with {ENSEMBLE_FILE} "
            f"({type(err).__name__})"
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
    ) -> None:
        self.spec = spec
        self.labels = list(spec.labels)
        self.weights = spec.weights
        self.thresholds = np.asarray(
            spec.thresholds if spec.thresholds is not None else [0.5] * len(self.labels)
        )
        self.max_length = max_length
        self.device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        self.models = [model.to(self.device).eval() for model in models]
        self.tokenizers = list(tokenizers)
        for i, model in enumerate(self.models):
            names = [model.config.id2label[j] for j in range(model.config.num_labels)]
            if names != self.labels:
                raise ValueError(f"member {i} predicts labels {names}, the ensemble expects {self.labels}")

    @classmethod
    def from_pretrained(
        cls,
        path_or_hub_id: str | os.PathLike,
        *,
        device: str | None = None,
        max_length: int = 128,
        trust_remote_code: bool = False,
        revision: str | None = None,
    ) -> Ensemble:
        """Load `ensemble.json` and its members (local folders beside it, else their Hub ids).

        Members load from safetensors only; remote code runs only with `trust_remote_code=True`.
        """
        folder = _resolve_folder(str(path_or_hub_id), revision)
        if not (folder / ENSEMBLE_FILE).is_file() and (folder / "config.json").is_file():
            spec = EnsembleSpec.single_member(folder)  # one trained model folder: thresholds 0.5
        else:
            spec = EnsembleSpec.load(folder)
        models, tokenizers = [], []
        for member, local in zip(spec.members, spec.member_dirs(folder), strict=True):
            source = str(local) if member.get("path") and local.is_dir() else member.get("hub_id")
            if not source:
                raise FileNotFoundError(
                    f"member '{member.get('name')}': {local} does not exist and it has no hub_id"
                )
            kwargs = dict(trust_remote_code=trust_remote_code)
            tokenizers.append(AutoTokenizer.from_pretrained(source, **kwargs))
            models.append(
                AutoModelForSequenceClassification.from_pretrained(source, use_safetensors=True, **kwargs)
            )
        return cls(models, tokenizers, spec, max_length=max_length, device=device)

    @torch.inference_mode()
    def _member_probs(self, index: int, texts: Sequence[str], batch_size: int) -> np.ndarray:
        model, tokenizer = self.models[index], self.tokenizers[index]
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
                return_tensors="pt",
            ).to(self.device)
            if "token_type_ids" not in tokenizer.model_input_names:
                batch.pop("token_type_ids", None)
            logits = model(**batch).logits.float()
            out[rows] = torch.sigmoid(logits).cpu().numpy()
        return out

    def predict_proba(self, texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
        """Ensemble probabilities, shape (len(texts), num_labels)."""
        texts = [_clean(t) for t in texts]
        if not texts:
            return np.zeros((0, len(self.labels)), dtype=np.float32)
        mixed = sum(w * self._member_probs(i, texts, batch_size) for i, w in enumerate(self.weights))
        return np.asarray(mixed, dtype=np.float32)

    def predict(self, texts: Sequence[str], batch_size: int = 64) -> list[dict]:
        """Per comment: every label's score and the labels at or over their thresholds."""
        probs = self.predict_proba(texts, batch_size)
        return [
            {
                "scores": {name: round(float(p), 6) for name, p in zip(self.labels, row, strict=True)},
                "labels": [
                    name for name, p, t in zip(self.labels, row, self.thresholds, strict=True) if p >= t
                ],
            }
            for row in probs
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


def _clean(text: str) -> str:
    """Never crash on odd input: None becomes empty; NUL and other C0 controls become spaces."""
    if text is None:
        return ""
    text = str(text)
    return "".join(" " if (ord(c) < 32 and c not in "\t\n") or c == "\x7f" else c for c in text)
