"""Arguments of the app and of the ONNX export."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..utils.errors import InvalidArgument

# The ONNX export's agreement check (hf_trainer/serving/export.py): the share of decisions a copy must keep,
# and how many comments it is checked on (the test split's texts, or a file of unlabelled comments).
MIN_AGREEMENT = 0.995
CHECK_ROWS = 3000


@dataclass
class AppArguments:
    ensemble_dir: str = field(default="outputs/ensemble", metadata={"help": "Ensemble folder or Hub id."})
    backend: str = field(default="torch", metadata={"help": "torch or onnx (the exported copies)."})
    host: str = field(
        default="127.0.0.1",
        metadata={"help": "Address to bind: 127.0.0.1 (this machine only) unless you mean to serve others."},
    )
    port: int = field(default=7860, metadata={"help": "Port to serve on."})
    lang: str = field(default="ko", metadata={"help": "The app's language: ko (Korean) or en (English)."})

    def __post_init__(self) -> None:
        if self.backend not in ("torch", "onnx"):
            raise InvalidArgument(f"--backend must be torch or onnx, got {self.backend!r}")
        if self.lang not in ("ko", "en"):
            raise InvalidArgument(f"--lang must be ko or en, got {self.lang!r}")
        if not 1 <= self.port <= 65535:
            raise InvalidArgument(f"--port must be in 1-65535, got {self.port}")


@dataclass
class ExportArguments:
    ensemble_dir: str = field(default="outputs/ensemble", metadata={"help": "Folder holding ensemble.json."})
    quantize: str = field(
        default="none",
        metadata={
            "help": "none, or int8: also write a dynamically quantised int8 copy (made again with the "
            "feed-forward layers in fp32 when it fails the agreement check)."
        },
    )
    min_agreement: float = field(
        default=MIN_AGREEMENT,
        metadata={
            "help": "Share of the checked (comment, label) decisions a copy must share with PyTorch fp32 "
            "at the ensemble's thresholds to be valid."
        },
    )
    check_rows: int = field(
        default=CHECK_ROWS,
        metadata={
            "help": "Comments of the agreement check, at most: the test split's texts (labels unused), "
            "or the lines of --check_file."
        },
    )
    check_file: str | None = field(
        default=None,
        metadata={
            "help": "A UTF-8 file of unlabelled comments, one per line, that the members never trained or tuned "
            "on, for the agreement check instead of the test split's texts."
        },
    )

    def __post_init__(self) -> None:
        if self.quantize not in ("none", "int8"):
            raise InvalidArgument(f"--quantize must be none or int8, got {self.quantize!r}")
        if not 0.0 < self.min_agreement <= 1.0:
            raise InvalidArgument(f"--min_agreement must be in (0, 1], got {self.min_agreement}")
        if self.check_rows < 1:
            raise InvalidArgument(f"--check_rows must be at least 1, got {self.check_rows}")
