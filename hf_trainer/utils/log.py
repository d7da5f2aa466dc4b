"""Logging in the design's format (`%(asctime)s - %(levelname)s - %(message)s`)."""

from __future__ import annotations

import logging
import sys

LOG_FORMAT = "%(asctime)s - %(levelname)s - %(message)s"


def setup_logging(level: int = logging.INFO) -> None:
    """Our messages at `level` (INFO on the main process); the libraries' at WARNING."""
    logging.basicConfig(format=LOG_FORMAT, level=logging.WARNING, stream=sys.stdout, force=True)
    logging.getLogger("hf_trainer").setLevel(level)
    logging.getLogger("__main__").setLevel(level)
    import datasets
    import transformers

    transformers.utils.logging.set_verbosity_warning()
    datasets.utils.logging.set_verbosity_warning()
