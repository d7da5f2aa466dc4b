"""Shared fixtures. Everything runs offline: the Hub is never contacted."""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

# Before any HF import: keep caches out of ~/.cache and never reach for the network.
_HF_HOME = tempfile.mkdtemp(prefix="hf_home_tests_")
os.environ.setdefault("HF_HOME", _HF_HOME)
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["HF_DATASETS_OFFLINE"] = "1"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("TQDM_DISABLE", "1")
if os.environ.get("PYTEST_XDIST_WORKER"):
    # Two workers share two cores: one thread each (two torch processes with a thread per core each
    # oversubscribe badly); the subprocesses the tests start inherit it.
    os.environ["OMP_NUM_THREADS"] = "1"

import pytest  # noqa: E402

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))
DEMO_DATA = REPO_ROOT / "recipes" / "demo_data"
REAL_DATA = REPO_ROOT.parent / "shared" / "data" / "unsmile"


@pytest.fixture(scope="session")
def demo_data_dir() -> Path:
    return DEMO_DATA


@pytest.fixture(scope="session")
def unsmile_dir() -> Path:
    if not (REAL_DATA / "unsmile_train_v1.0.tsv").is_file():
        pytest.skip("the real UnSmile files (../shared/data/unsmile) are not here")
    return REAL_DATA


@pytest.fixture
def write_tsv(tmp_path):
    """Write `text` to a file in tmp_path and return its path (bytes are written as they are)."""

    def _write(name: str, content: str | bytes) -> Path:
        path = tmp_path / name
        path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
        return path

    return _write


@pytest.fixture(scope="session")
def pipeline_dir(tmp_path_factory):
    """Tiny members trained for real -> ensemble -> thresholds -> one test evaluation (shared)."""
    from tests.helpers import train_tiny_pipeline

    return train_tiny_pipeline(tmp_path_factory.mktemp("pipeline"))


@pytest.fixture(scope="session")
def mixed(pipeline_dir, tmp_path_factory):
    """Two of the pipeline's tiny transformers and a char n-gram member (trained on the same rows)
    -> ensemble -> thresholds -> one test evaluation (shared)."""
    from tests.helpers import CHAR_NGRAM_DATA, load_recipe

    root = tmp_path_factory.mktemp("mixed")
    load_recipe("train").main(
        ["--model", "char-ngram", *CHAR_NGRAM_DATA, "--output_dir", str(root / "char-ngram")]
    )
    members = [str(pipeline_dir / "tiny-bert"), str(pipeline_dir / "tiny-roberta"), str(root / "char-ngram")]
    load_recipe("ensemble").main(["--members", *members, "--output_dir", str(root / "ensemble")])
    load_recipe("thresholds").main(["--ensemble_dir", str(root / "ensemble")])
    report = load_recipe("evaluate_test").main(["--ensemble_dir", str(root / "ensemble")])
    return root, report
