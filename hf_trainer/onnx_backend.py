"""Serving on ONNX Runtime: each transformer member exported to ONNX (dynamic batch and sequence
axes), optionally quantised to int8 (dynamic quantisation of the weights), and a check that the
exported ensemble makes the decisions the PyTorch one makes.

Layout, inside the ensemble folder:
    onnx/export.json              what was exported, the agreement figures, which copy is valid
    onnx/<member>/model.onnx      fp32
    onnx/<member>/model.int8.onnx int8 (--quantize int8)
The tokenizers stay in the member folders; a char n-gram member has no ONNX copy and keeps its own
fast path.
"""

from __future__ import annotations

import importlib
import logging
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import ModuleType

import numpy as np

from . import io
from .errors import InputNotFound, InvalidInput, UserError

logger = logging.getLogger(__name__)

ONNX_DIR = "onnx"
EXPORT_FILE = "export.json"
FILES = {"fp32": "model.onnx", "int8": "model.int8.onnx"}
MIN_AGREEMENT = 0.995
CHECK_ROWS = 3000  # comments of the agreement check: validation first, then original train rows
CHECK_BATCH_SIZE = 64
OPSET = 17
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


def require_export_packages() -> ModuleType:
    """The onnxruntime module, after checking that everything the export needs is installed."""
    missing = [
        name for name in ("onnxruntime", "onnx", "onnxscript") if importlib.util.find_spec(name) is None
    ]
    if missing:
        raise MissingDependency(f"The ONNX export needs {', '.join(missing)}, not installed: {INSTALL_HINT}")
    return require_onnxruntime()


class OnnxClassifier:
    """One exported member on an ONNX Runtime CPU session: tokenised inputs -> logits."""

    def __init__(self, path: str | Path, labels: Sequence[str], threads: int | None = None) -> None:
        ort = require_onnxruntime()
        options = ort.SessionOptions()
        if threads:
            options.intra_op_num_threads = threads
        self.path = Path(path)
        self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        self.input_names = [i.name for i in self.session.get_inputs()]
        # The file carries no label names; its logits width is what can be checked against them.
        width = self.session.get_outputs()[0].shape[-1]
        if isinstance(width, int) and width != len(labels):
            raise InvalidInput(
                f"{path}: the copy gives {width} logits, the ensemble has {len(labels)} labels"
            )
        self.labels = list(labels)

    def logits(self, encoded: Mapping[str, np.ndarray]) -> np.ndarray:
        feed = {name: np.asarray(encoded[name], dtype=np.int64) for name in self.input_names}
        return self.session.run(["logits"], feed)[0]


def export_member(model, tokenizer, folder: Path, quantize: str | None) -> dict[str, str]:
    """Write `folder/model.onnx` (and `model.int8.onnx`), atomically; returns {variant: file name}.

    The export traces a copy of `model`: tracing leaves state behind that changes what the traced
    module computes afterwards (measured: 10% of the decisions of a tiny member changed).
    """
    import copy

    import torch

    names = [n for n in ("input_ids", "attention_mask", "token_type_ids") if n in tokenizer.model_input_names]
    sample = tokenizer(["예시 문장입니다", "둘"], padding=True, return_tensors="pt")

    class LogitsOnly(torch.nn.Module):  # positional inputs in, logits out: what ONNX needs
        def __init__(self, inner: torch.nn.Module) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
            return self.inner(**dict(zip(names, inputs, strict=True))).logits

    folder.mkdir(parents=True, exist_ok=True)
    fp32, int8 = folder / FILES["fp32"], folder / FILES["int8"]
    partials = [folder / (FILES["fp32"] + ".partial"), folder / (FILES["int8"] + ".partial.onnx")]
    axes = {name: {0: "batch", 1: "sequence"} for name in names} | {"logits": {0: "batch"}}
    try:
        with torch.no_grad():
            torch.onnx.export(
                LogitsOnly(copy.deepcopy(model).float().eval().cpu()),
                tuple(sample[n] for n in names),
                str(partials[0]),
                input_names=names,
                output_names=["logits"],
                dynamic_axes=axes,
                opset_version=OPSET,
                dynamo=False,
            )
        os.replace(partials[0], fp32)
        files = {"fp32": fp32.name}
        if quantize == "int8":
            from onnxruntime.quantization import QuantType, quantize_dynamic

            # Per-channel scales keep more of each weight matrix's range than one scale per tensor.
            quantize_dynamic(str(fp32), str(partials[1]), weight_type=QuantType.QInt8, per_channel=True)
            os.replace(partials[1], int8)
            files["int8"] = int8.name
        elif int8.exists():
            int8.unlink()  # an int8 copy of an earlier export would not match this one
    finally:
        for partial in partials:
            partial.unlink(missing_ok=True)
    return files


def agreement(
    reference: np.ndarray, candidate: np.ndarray, thresholds: Sequence[float], labels: np.ndarray
) -> dict:
    """How far `candidate` scores are from `reference` scores: the share of (comment, label) decisions
    that agree at `thresholds`, the largest absolute score difference, and the macro F1 difference."""
    from .metrics import binarize, f1_scores

    ref, cand = binarize(reference, thresholds), binarize(candidate, thresholds)
    return {
        "decisions_agree": float(np.mean(ref == cand)),
        "max_abs_prob_diff": float(np.max(np.abs(np.asarray(reference) - np.asarray(candidate)))),
        "f1_macro_diff": float(
            f1_scores(cand, labels)["f1_macro"][0] - f1_scores(ref, labels)["f1_macro"][0]
        ),
        "rows": len(reference),
    }


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
