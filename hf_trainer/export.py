"""Export an ensemble's transformer members to ONNX and check that the copies decide as PyTorch does.

The check never touches the test split: it runs on the validation rows, then original train rows
up to `rows` comments, the PyTorch backend in fp32 on the CPU against each exported copy, at the
ensemble's thresholds. (Validation rows alone are a pessimistic sample: each tuned threshold sits
halfway between two validation scores, so on those rows some scores lie next to a threshold by
construction; on a 150-row demo split those few rows alone are most of a 0.5% budget.) A copy
whose share of agreeing (comment, label) decisions falls below `min_agreement` is recorded as not
valid, and the ONNX backend never serves it.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from pathlib import Path

import numpy as np

from . import io
from .ensemble import ENSEMBLE_FILE, EnsembleSpec, is_char_ngram_member, load_aligned
from .error_analysis import split_rows, split_texts
from .errors import InvalidInput, UserError
from .inference import Ensemble
from .onnx_backend import (
    CHECK_BATCH_SIZE,
    CHECK_ROWS,
    EXPORT_FILE,
    MIN_AGREEMENT,
    ONNX_DIR,
    OnnxClassifier,
    agreement,
    export_member,
    require_export_packages,
)

logger = logging.getLogger(__name__)


class ExportRefused(UserError):
    """An exported copy makes too many decisions the PyTorch backend does not make."""


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


def check_rows(
    folder: Path, spec: EnsembleSpec, limit: int = CHECK_ROWS
) -> tuple[list[str], np.ndarray, str]:
    """Comments for the agreement check (validation first, then original train rows; never test),
    their gold labels, and a description."""
    member_dirs = spec.member_dirs(folder)
    val = load_aligned(member_dirs, "val")[0]
    texts = split_texts(member_dirs, "validation")
    if texts is None:
        raise InvalidInput("the agreement check needs the validation comments; see the warning above")
    ids = val.ids[:limit]
    missing = [int(i) for i in ids if int(i) not in texts]
    if missing:
        raise InvalidInput(
            f"{len(missing)} validation rows of the members' predictions (ids {missing[:5]}...) are not in "
            "the validation split the members' run_config.json describes; was the data changed after training?"
        )
    comments, labels = [texts[int(i)] for i in ids], [val.references[: len(ids)]]
    train = split_rows(member_dirs, "train") if len(comments) < limit else None
    taken = 0
    if train is not None and len(train):
        taken = min(limit - len(comments), len(train))
        comments += train["text"][:taken]
        labels.append(np.asarray(train["labels"][:taken], dtype=np.float32))
    return comments, np.concatenate(labels), f"{len(ids)} validation and {taken} train comments"


def check_agreement(
    folder: Path, reference: Ensemble, files: dict[str, dict[str, str]], texts: list[str], labels: np.ndarray
) -> dict[str, dict]:
    """Per exported variant: `onnx_backend.agreement` of its ensemble scores with the reference's."""
    start = time.perf_counter()
    expected = reference.predict_proba(texts, batch_size=CHECK_BATCH_SIZE)
    torch_s = time.perf_counter() - start
    checks = {}
    variants = sorted({v for member_files in files.values() for v in member_files})
    for variant in variants:
        models = [
            OnnxClassifier(
                folder / ONNX_DIR / entry["name"] / files[entry["name"]][variant], reference.labels
            )
            if entry["name"] in files
            else model
            for entry, model in zip(reference.spec.members, reference.models, strict=True)
        ]
        copy = Ensemble(models, reference.tokenizers, reference.spec, reference.max_length, device="cpu")
        start = time.perf_counter()
        probs = copy.predict_proba(texts, batch_size=CHECK_BATCH_SIZE)
        checks[variant] = agreement(expected, probs, reference.thresholds, labels) | {
            "seconds": time.perf_counter() - start,
            "torch_fp32_seconds": torch_s,
        }
    return checks


def export_ensemble(
    ensemble_dir: str | Path,
    quantize: str = "none",
    min_agreement: float = MIN_AGREEMENT,
    rows: int = CHECK_ROWS,
) -> dict:
    """Export every transformer member, check the copies, write onnx/export.json; returns its content.
    Raises `ExportRefused` (after writing the record) when the copy to be served fails the check."""
    folder = Path(ensemble_dir)
    spec = EnsembleSpec.load(folder)
    ort = require_export_packages()

    if all(is_char_ngram_member(m, d) for m, d in zip(spec.members, spec.member_dirs(folder), strict=True)):
        raise InvalidInput(
            f"{folder / ENSEMBLE_FILE}: nothing to export; every member is a char n-gram model, which keeps "
            "its own fast path with either backend"
        )
    # The check's comments first: a missing validation split should stop the export before it starts.
    texts, labels, checked_on = check_rows(folder, spec, rows)
    # The old record goes first: until the new one is written, no copy counts as checked.
    record_file = folder / ONNX_DIR / EXPORT_FILE
    record_file.unlink(missing_ok=True)
    reference = Ensemble.from_pretrained(folder, device="cpu", backend="torch")
    files = {}
    for entry, model, tokenizer, local in zip(
        spec.members, reference.models, reference.tokenizers, spec.member_dirs(folder), strict=True
    ):
        if is_char_ngram_member(entry, local):
            continue  # its own fast path, nothing to export
        start = time.perf_counter()
        files[entry["name"]] = export_member(model, tokenizer, folder / ONNX_DIR / entry["name"], quantize)
        logger.info(
            "Exported %s (%s) in %.1fs",
            entry["name"],
            ", ".join(files[entry["name"]]),
            time.perf_counter() - start,
        )
    checks = check_agreement(folder, reference, files, texts, labels)
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
        "quantize": quantize,
        "min_agreement": min_agreement,
        "checked_on": checked_on,
        # int8 kernels quantise activations per batch, so the figures hold for this batch size.
        "batch_size": CHECK_BATCH_SIZE,
        "checks": checks,
        "valid": valid,
        "versions": package_versions(ort),
        "max_length": reference.max_length,
    }
    io.write_json(record_file, record)
    for variant, check in checks.items():
        logger.info(
            "%s copy: %.4f%% of %d x %d decisions agree with PyTorch fp32, max |p diff| %.2e, macro F1 %+.4f: %s",
            variant,
            100 * check["decisions_agree"],
            check["rows"],
            len(spec.labels),
            check["max_abs_prob_diff"],
            check["f1_macro_diff"],
            "valid" if valid[variant] else f"NOT valid (below {min_agreement})",
        )
    served = "int8" if quantize == "int8" else "fp32"
    if not valid[served]:
        raise ExportRefused(
            f"the {served} ONNX copy agrees with PyTorch on {100 * checks[served]['decisions_agree']:.3f}% of the "
            f"checked decisions ({checked_on}), below the {100 * min_agreement:.1f}% bar: it is recorded as "
            f"not valid in {record_file} and will not be served"
            + (" (the fp32 copy is valid and will be served)" if valid.get("fp32") else "")
        )
    return record
