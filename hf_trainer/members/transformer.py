"""A fine-tuned transformer encoder served on torch: tokenise, forward, sigmoid."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import ClassVar

import numpy as np
import torch

from .base import MemberInfo, predict_in_length_order, recorded_canonical_form

logger = logging.getLogger(__name__)


def encode(tokenizer, texts: list[str], max_length: int, return_tensors: str):
    """One batch as the member's model takes it (the same for its torch and ONNX copies)."""
    batch = tokenizer(
        texts, truncation=True, max_length=max_length, padding=True, return_tensors=return_tensors
    )
    if "token_type_ids" not in tokenizer.model_input_names:
        batch.pop("token_type_ids", None)
    return batch


class TransformerMember:
    """A sequence classifier and its tokenizer. Runs on `device` (default: CUDA when there is one),
    in fp16 autocast on CUDA unless `half_precision=False`, never on the CPU."""

    kind: ClassVar[str] = "transformer"
    trains_in_epochs: ClassVar[bool] = True
    has_preflight_checks: ClassVar[bool] = (
        True  # loading, [UNK] share, a training step: run_all.sh checks first
    )

    def __init__(self, model, tokenizer, *, max_length: int = 128, device=None, half_precision=None) -> None:
        self.device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        self.half_precision = self.device.type == "cuda" and half_precision is not False
        self.model = model.to(self.device).eval()
        self.tokenizer = tokenizer
        self.max_length = max_length
        self.labels = [model.config.id2label[j] for j in range(model.config.num_labels)]
        self.canonical_form: tuple[str, ...] = ()  # set by `load` from member.json

    @classmethod
    def load(
        cls, source: str, *, trust_remote_code: bool = False, max_length: int = 128, device=None,
        half_precision=None,
    ) -> TransformerMember:  # fmt: skip
        """A local folder or Hub id; weights as in training (`modeling.resolve_weights`): safetensors
        when there are some, else a .bin file through torch's weights_only loader, never pickled code."""
        from transformers import AutoTokenizer

        from ..training.modeling import load_pretrained_classifier, resolve_weights

        weights = resolve_weights(source)
        kwargs = dict(trust_remote_code=trust_remote_code, revision=weights.commit)
        logger.info("Member %s: %s", Path(source).name, weights.describe())
        model = load_pretrained_classifier(source, weights, **kwargs)
        tokenizer = AutoTokenizer.from_pretrained(source, **kwargs)
        member = cls(model, tokenizer, max_length=max_length, device=device, half_precision=half_precision)
        member.canonical_form = recorded_canonical_form(source)
        return member

    @torch.inference_mode()
    def predict_proba(self, texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
        return predict_in_length_order(
            texts, batch_size, len(self.labels), self._score_batch, self.canonical_form
        )

    def _score_batch(self, texts: list[str]) -> np.ndarray:
        from ..metrics.multilabel import sigmoid

        batch = encode(self.tokenizer, texts, self.max_length, "pt").to(self.device)
        with torch.autocast(self.device.type, dtype=torch.float16, enabled=self.half_precision):
            logits = self.model(**batch).logits.float().cpu().numpy()
        # The sigmoid of the saved training predictions: in fp32 the thresholds meet the scores they
        # were tuned on; fp16 autocast moves them slightly (unmeasured).
        return sigmoid(logits)

    def save(self, folder: str | Path, model: str | None = None) -> None:
        self.model.save_pretrained(folder)
        self.tokenizer.save_pretrained(folder)
        MemberInfo(self.kind, self.labels, model, self.canonical_form).save(folder)

    @staticmethod
    def train(model_args, data_args, training_args, splits, data_report: dict) -> dict:
        """A whole training run with the Trainer (`hf_trainer.training.fine_tune`)."""
        from ..training.fine_tune import train_transformer

        return train_transformer(model_args, data_args, training_args, splits, data_report)

    @staticmethod
    def preflight(model_args, data_args, training_args, splits) -> dict:
        """Loading, [UNK] share, truncation, one training step, disk and time (`preflight`)."""
        from ..training.fine_tune import preflight_transformer

        return preflight_transformer(model_args, data_args, training_args, splits)

    # What publishing uploads (weights, config, tokenizer, the run's JSON results; no checkpoints, no
    # pickles, no predictions: they hold the data's gold labels) and what the model card says this kind
    # of member is and how it loads ({repo_id}: the member's repository).
    hub_files: ClassVar[tuple[str, ...]] = ("*.safetensors", "*.json", "*.txt", "*.model")
    card_noun: ClassVar[tuple[str, str]] = (
        "transformer encoder fine-tuned with a pos_weight BCE loss",
        "transformer encoders fine-tuned with a pos_weight BCE loss",
    )
    card_text: ClassVar[str] = (
        "a fine-tuned transformer encoder; it also loads on its own in a plain transformers pipeline: "
        '`pipeline("text-classification", model="{repo_id}", top_k=None, function_to_apply="sigmoid")` '
        "(a pipeline skips the member's canonical form, so its scores differ on text that form changes)"
    )
