"""Export an ensemble's transformer members to ONNX and check that the copies decide as PyTorch does.

Agreement needs no gold labels, so the check runs on comments the members never trained or tuned
on: the test split's texts (their labels are not used; this compares two copies of one model and
chooses nothing on test, so it is not a test evaluation), or the unlabelled comments of a file the
user passes (`check_file`), up to `rows` comments. The PyTorch backend in fp32 on the CPU is the
reference for each exported copy, at the ensemble's thresholds. Rows the members were trained or
tuned on would not do: training rows sit far from the thresholds, and each tuned threshold sits
halfway between two validation scores. Beside the share of all (comment, label) decisions that
agree (mostly easy negatives), the record gives the flip rate among the decisions either backend
flags and among those whose reference score lies within NEAR_THRESHOLD of the threshold. A copy
whose overall share falls below `min_agreement` is recorded as not valid, and the ONNX backend never
serves it.

An int8 copy first quantises every weight matrix. Where that copy fails the check, the export quantises
again with the feed-forward layers kept in fp32 and checks that copy (measured on the CPU profile's
e5-small member: its feed-forward matrices are where int8 moves its decisions; docs/serving.md).
"""

from __future__ import annotations

import datetime as dt
import importlib
import logging
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import numpy as np

from ..data.preparation import split_texts
from ..members import TRANSFORMER
from ..members.onnx import (
    EXPORT_FILE,
    FILES,
    INSTALL_HINT,
    ONNX_DIR,
    MissingDependency,
    OnnxMember,
    require_onnxruntime,
    tokenizer_digest,
)
from ..selection.ensemble import ENSEMBLE_FILE, EnsembleSpec
from ..utils import io
from ..utils.errors import InputNotFound, InvalidInput, UserError
from .arguments import CHECK_ROWS, MIN_AGREEMENT
from .inference import Ensemble

logger = logging.getLogger(__name__)

CHECK_BATCH_SIZE = 64
OPSET = 17
NEAR_THRESHOLD = 0.05  # a reference score this close to its threshold counts as a near decision
# export.json's "int8_scope": the first copy tried, then the one tried when that fails the check.
INT8_SCOPES = ("all weight matrices", "all weight matrices but the feed-forward layers'")


class ExportRefused(UserError):
    """An exported copy makes too many decisions the PyTorch backend does not make."""


def require_export_packages() -> ModuleType:
    """The onnxruntime module, after checking that everything the export needs is installed."""
    missing = [
        name for name in ("onnxruntime", "onnx", "onnxscript") if importlib.util.find_spec(name) is None
    ]
    if missing:
        raise MissingDependency(f"The ONNX export needs {', '.join(missing)}, not installed: {INSTALL_HINT}")
    return require_onnxruntime()


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
    partial = folder / (FILES["fp32"] + ".partial")
    axes = {name: {0: "batch", 1: "sequence"} for name in names} | {"logits": {0: "batch"}}
    try:
        with torch.no_grad():
            torch.onnx.export(
                LogitsOnly(copy.deepcopy(model).float().eval().cpu()),
                tuple(sample[n] for n in names),
                str(partial),
                input_names=names,
                output_names=["logits"],
                dynamic_axes=axes,
                opset_version=OPSET,
                dynamo=False,
            )
        os.replace(partial, fp32)
        files = {"fp32": fp32.name}
        if quantize == "int8":
            quantize_int8(fp32, int8)
            files["int8"] = int8.name
        elif int8.exists():
            int8.unlink()  # an int8 copy of an earlier export would not match this one
    finally:
        partial.unlink(missing_ok=True)
    return files


def feed_forward_matmuls(model_file: Path) -> list[str]:
    """The MatMul nodes of an exported encoder's feed-forward layers (`intermediate/dense` and the
    layer's `output/dense`, not the attention's), by the node names torch's exporter writes for the
    BERT family (BERT, ELECTRA, RoBERTa, XLM-R)."""
    import onnx

    graph = onnx.load(str(model_file), load_external_data=False).graph
    return [
        node.name
        for node in graph.node
        if node.op_type == "MatMul"
        and (
            "/intermediate/dense/" in node.name
            or ("/output/dense/" in node.name and "/attention/" not in node.name)
        )
    ]


def quantize_int8(fp32: Path, int8: Path, keep: Sequence[str] = ()) -> None:
    """Write `int8` from `fp32` by ONNX Runtime's dynamic int8 quantisation, atomically; the nodes named
    in `keep` (`feed_forward_matmuls`) stay fp32."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    partial = int8.with_name(int8.name + ".partial.onnx")
    try:
        # Per-channel scales keep more of each weight matrix's range than one scale per tensor.
        quantize_dynamic(
            str(fp32),
            str(partial),
            weight_type=QuantType.QInt8,
            per_channel=True,
            nodes_to_exclude=list(keep),
        )
        os.replace(partial, int8)
    finally:
        partial.unlink(missing_ok=True)


def agreement(reference: np.ndarray, candidate: np.ndarray, thresholds: Sequence[float]) -> dict:
    """How far `candidate` scores are from `reference` scores, without gold labels: the share of
    (comment, label) decisions that agree at `thresholds`; the flips among the decisions either side
    flags and among those whose reference score is within NEAR_THRESHOLD of its threshold; the
    largest absolute score difference."""
    from ..metrics.multilabel import binarize

    reference, candidate = np.asarray(reference, dtype=np.float64), np.asarray(candidate, dtype=np.float64)
    ref, cand = binarize(reference, thresholds), binarize(candidate, thresholds)
    flipped = ref != cand
    flagged = (ref == 1) | (cand == 1)
    near = np.abs(reference - np.asarray(thresholds, dtype=np.float64)) < NEAR_THRESHOLD

    def rate(mask: np.ndarray) -> float | None:
        return float(flipped[mask].mean()) if mask.any() else None

    return {
        "decisions_agree": float(1.0 - flipped.mean()),
        "decisions": int(flipped.size),
        "flips": int(flipped.sum()),
        "flagged_decisions": int(flagged.sum()),
        "flagged_flip_rate": rate(flagged),
        "near_threshold": NEAR_THRESHOLD,
        "near_threshold_decisions": int(near.sum()),
        "near_threshold_flip_rate": rate(near),
        "max_abs_prob_diff": float(np.max(np.abs(reference - candidate))),
        "rows": len(reference),
    }


def package_versions(ort) -> dict[str, str]:
    """The versions the export and its check ran with (README names the tested ones)."""
    import onnx
    import onnxscript
    import torch
    import transformers

    return {
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "onnxruntime": ort.__version__,
        "onnx": onnx.__version__,
        "onnxscript": onnxscript.__version__,
    }


def check_texts(
    folder: Path, spec: EnsembleSpec, limit: int = CHECK_ROWS, check_file: str | Path | None = None
) -> tuple[list[str], str]:
    """Comments for the agreement check and a description: the first `limit` non-empty lines of
    `check_file` (one comment per line), else the test split's texts (never its labels)."""
    if check_file is not None:
        path = Path(check_file)
        if not path.is_file():
            raise InputNotFound(f"--check_file {path} not found")
        with path.open("rb") as handle:
            texts = [line for line in io.read_lines(handle) if line.strip()][:limit]
        if not texts:
            raise InvalidInput(f"--check_file {path}: no comments in it")
        return texts, f"{len(texts)} comments of {path.name} (unlabelled)"
    test = split_texts(spec.member_dirs(folder), "test")
    if not test:
        raise InvalidInput(
            "the agreement check needs comments the members never trained or tuned on: the test split's texts "
            "could not be read (see the warning above); pass --check_file with one comment per line"
        )
    texts = [test[i] for i in sorted(test)][:limit]
    return texts, f"{len(texts)} test comments (texts only; their labels are not used)"


@dataclass
class AgreementCheck:
    """What every copy is checked against: the PyTorch fp32 ensemble (`reference`) and its scores on
    the check's comments, with the exported files of each member ({member: {variant: file}})."""

    folder: Path
    reference: Ensemble
    files: dict[str, dict[str, str]]
    texts: list[str]
    expected: np.ndarray
    torch_seconds: float

    @classmethod
    def scored(cls, folder: Path, reference: Ensemble, files: dict, texts: list[str]) -> AgreementCheck:
        start = time.perf_counter()
        expected = reference.predict_proba(texts, batch_size=CHECK_BATCH_SIZE)
        return cls(folder, reference, files, texts, expected, time.perf_counter() - start)

    def run(self, variants: Sequence[str] | None = None) -> dict[str, dict]:
        """Per exported variant (or those named): `agreement` of its ensemble scores with the reference's."""
        checks = {}
        variants = variants or sorted({v for member_files in self.files.values() for v in member_files})
        for variant in variants:
            # The same ensemble with each exported member swapped for its ONNX copy.
            members = [
                OnnxMember(
                    self.folder / ONNX_DIR / entry["name"] / self.files[entry["name"]][variant],
                    member.tokenizer,
                    self.reference.labels,
                    member.max_length,
                    canonical_form=member.canonical_form,
                )
                if entry["name"] in self.files
                else member
                for entry, member in zip(self.reference.spec.members, self.reference.members, strict=True)
            ]
            copy = Ensemble(members, self.reference.spec)
            start = time.perf_counter()
            probs = copy.predict_proba(self.texts, batch_size=CHECK_BATCH_SIZE)
            checks[variant] = agreement(self.expected, probs, self.reference.thresholds) | {
                "seconds": time.perf_counter() - start,
                "torch_fp32_seconds": self.torch_seconds,
            }
        return checks

    def int8_keeping_feed_forward(self, min_agreement: float, first: dict) -> dict | None:
        """Quantise every exported member again with its feed-forward layers in fp32 (after the copy
        with every matrix in int8, checked as `first`, failed); returns the new copy's check, or None
        (the failed copy stays) when a member has no feed-forward layer found by name."""
        # Each fp32 copy is read once for its node names, then quantised with them kept.
        keep = {
            n: feed_forward_matmuls(self.folder / ONNX_DIR / n / f["fp32"]) for n, f in self.files.items()
        }
        unknown = [name for name, nodes in keep.items() if not nodes]
        if unknown:
            logger.warning(
                "No feed-forward layers found by name in %s: the int8 copy stays as it is", ", ".join(unknown)
            )
            return None
        logger.warning(
            "The int8 copy with every weight matrix in int8 keeps %.3f%% of the decisions (below %.1f%%): "
            "quantising again with the feed-forward layers kept in fp32",
            100 * first["decisions_agree"], 100 * min_agreement,
        )  # fmt: skip
        for name, member_files in self.files.items():
            member_folder = self.folder / ONNX_DIR / name
            quantize_int8(
                member_folder / member_files["fp32"], member_folder / member_files["int8"], keep[name]
            )
        return self.run(variants=["int8"])["int8"]


def log_checks(checks: dict, valid: dict, labels: int, min_agreement: float) -> None:
    def share(rate: float | None) -> str:
        return "none" if rate is None else f"{100 * rate:.2f}%"

    for variant, check in checks.items():
        logger.info(
            "%s copy: %.4f%% of %d x %d decisions agree with PyTorch fp32 (flips: %s of %d flagged, %s of %d "
            "within %.2f of a threshold), max |p diff| %.2e: %s",
            variant, 100 * check["decisions_agree"], check["rows"], labels, share(check["flagged_flip_rate"]),
            check["flagged_decisions"], share(check["near_threshold_flip_rate"]), check["near_threshold_decisions"],
            check["near_threshold"], check["max_abs_prob_diff"],
            "valid" if valid[variant] else f"NOT valid (below {min_agreement})",
        )  # fmt: skip


def export_members(
    folder: Path, reference: Ensemble, exported: list[bool], quantize: str
) -> dict[str, dict[str, str]]:
    """Export the members marked in `exported` under folder/onnx/<member>; {member: {variant: file}}."""
    files = {}
    for entry, member, export in zip(reference.spec.members, reference.members, exported, strict=True):
        if not export:
            continue
        start = time.perf_counter()
        files[entry["name"]] = export_member(
            member.model, member.tokenizer, folder / ONNX_DIR / entry["name"], quantize
        )
        logger.info(
            "Exported %s (%s) in %.1fs",
            entry["name"],
            ", ".join(files[entry["name"]]),
            time.perf_counter() - start,
        )
    return files


def export_ensemble(
    ensemble_dir: str | Path,
    quantize: str = "none",
    min_agreement: float = MIN_AGREEMENT,
    rows: int = CHECK_ROWS,
    max_length: int = 128,
    check_file: str | Path | None = None,
) -> dict:
    """Export every transformer member, check the copies, write onnx/export.json; returns its content.
    Raises `ExportRefused` (after writing the record) when the copy to be served fails the check."""
    folder = Path(ensemble_dir)
    spec = EnsembleSpec.load(folder)
    ort = require_export_packages()

    reference = Ensemble.from_pretrained(folder, device="cpu", backend="torch", max_length=max_length)
    exported = [m.kind == TRANSFORMER for m in reference.members]  # a char n-gram member has no ONNX copy
    if not any(exported):
        raise InvalidInput(
            f"{folder / ENSEMBLE_FILE}: nothing to export; every member is a char n-gram model, which keeps "
            "its own fast path with either backend"
        )
    # The check's comments first: missing comments should stop the export before it starts.
    texts, checked_on = check_texts(folder, spec, rows, check_file)
    # The old record goes first: until the new one is written, no copy counts as checked.
    record_file = folder / ONNX_DIR / EXPORT_FILE
    record_file.unlink(missing_ok=True)
    files = export_members(folder, reference, exported, quantize)
    check = AgreementCheck.scored(folder, reference, files, texts)
    checks = check.run()
    first_int8 = None
    if quantize == "int8" and checks["int8"]["decisions_agree"] < min_agreement:
        retried = check.int8_keeping_feed_forward(min_agreement, checks["int8"])
        if retried is not None:
            first_int8, checks["int8"] = checks["int8"], retried
    valid = {variant: check["decisions_agree"] >= min_agreement for variant, check in checks.items()}
    record = {
        "exported_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "ensemble_json_sha256": io.sha256_file(folder / ENSEMBLE_FILE),
        "members": files,
        # The backend serves a copy only while its bytes are the ones checked here.
        "sha256": {
            name: {
                variant: io.sha256_file(folder / ONNX_DIR / name / file) for variant, file in variants.items()
            }
            for name, variants in files.items()
        },
        # The backend refuses a copy whose member's tokenizer changed since (its token ids would differ).
        "tokenizer_digest": {
            entry["name"]: tokenizer_digest(member_dir)
            for entry, member_dir in zip(spec.members, spec.member_dirs(folder), strict=True)
            if entry["name"] in files and member_dir is not None and member_dir.is_dir()
        },
        "quantize": quantize,
        # Which weight matrices the int8 copy holds in int8, and the check of the copy tried first.
        "int8_scope": None if quantize != "int8" else INT8_SCOPES[first_int8 is not None],
        "int8_every_matrix_check": first_int8,
        "min_agreement": min_agreement,
        "checked_on": checked_on,
        # int8 kernels quantise activations per batch, so the figures hold for this batch size.
        "batch_size": CHECK_BATCH_SIZE,
        "checks": checks,
        "valid": valid,
        "versions": package_versions(ort),
        "max_length": max_length,
    }
    io.write_json(record_file, record)
    log_checks(checks, valid, len(spec.labels), min_agreement)
    served = "int8" if quantize == "int8" else "fp32"
    if not valid[served]:
        raise ExportRefused(
            f"the {served} ONNX copy agrees with PyTorch on {100 * checks[served]['decisions_agree']:.3f}% of the "
            f"checked decisions ({checked_on}), below the {100 * min_agreement:.1f}% bar: it is recorded as "
            f"not valid in {record_file} and will not be served"
            + (" (the fp32 copy is valid and will be served)" if valid.get("fp32") else "")
        )
    return record
