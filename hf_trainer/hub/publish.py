"""Publishing to the Hugging Face Hub: an early access check, the ensemble bundle (with its model card
and a Space) and single members.

Tokens come from the usual places (HF_TOKEN, `hf auth login`) and are never logged or written.
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Mapping
from pathlib import Path

from ..evaluation.functional import FUNCTIONAL_FILE
from ..evaluation.test_once import ERRORS_FILE, METRICS_FILE, REPORT_DIR
from ..members import entry_kind, folder_kind, member_class
from ..members.base import recorded_canonical_form
from ..selection.ensemble import EnsembleSpec
from ..utils import io
from ..utils.errors import InvalidArgument, UserError
from .card import model_card, pinned_version

logger = logging.getLogger(__name__)


class HubAccessError(UserError):
    """Publishing cannot work: no token, or the Hub cannot be reached with it."""


def check_hub_access(api=None, token: str | None = None) -> str:
    """Fail early, before any training, when publishing cannot work. Returns the account name."""
    from huggingface_hub import HfApi, get_token

    token = token or get_token()
    if not token:
        raise HubAccessError(
            "--push_to_hub needs a Hugging Face token: set HF_TOKEN or run `hf auth login` (nothing was trained)."
        )
    api = api or HfApi()
    try:
        info = api.whoami(token=token)
    except Exception as err:  # offline, bad token, Hub down: same advice; the token itself is never printed
        raise HubAccessError(
            f"--push_to_hub: the Hugging Face Hub did not accept the token or could not be reached "
            f"({type(err).__name__}). Check the network and the token (nothing was trained)."
        ) from None
    return info.get("name", "?") if isinstance(info, Mapping) else "?"


def stage_bundle(
    ensemble_dir: str | Path, staging_dir: str | Path, member_repos: Mapping[str | Path, str], repo_id: str
) -> Path:
    """Assemble exactly what the ensemble repository gets: ensemble.json (members as Hub ids), the
    report (without errors.tsv, which quotes test comments) and a model card. Returns the staging folder.

    `member_repos` maps each member folder to its Hub id. Members are matched to ensemble.json's
    entries by folder, never by position; a set of folders other than ensemble.json's is refused."""
    ensemble_dir, staging = Path(ensemble_dir), Path(staging_dir)
    spec = EnsembleSpec.load(ensemble_dir)
    by_folder = {Path(folder).resolve(): hub_id for folder, hub_id in member_repos.items()}
    local = spec.member_dirs(ensemble_dir)
    if set(by_folder) != set(local) or len(by_folder) != len(member_repos):
        raise InvalidArgument(
            f"the members to publish ({', '.join(sorted(map(str, by_folder)))}) are not the members of "
            f"{ensemble_dir / 'ensemble.json'} ({', '.join(map(str, local))}); pass exactly its member folders"
        )
    if staging.exists():
        shutil.rmtree(staging)
    staging.mkdir(parents=True)
    for member, folder in zip(spec.members, local, strict=True):
        member["hub_id"] = by_folder[folder]
        member["kind"] = entry_kind(member, folder)  # what loads it from the Hub, and what the card says
    spec.save(staging)
    report = ensemble_dir / REPORT_DIR
    test_metrics = io.read_json(report / METRICS_FILE) if (report / METRICS_FILE).is_file() else None
    if report.is_dir():
        # errors.tsv quotes test comments verbatim: UnSmile is CC BY-NC-ND, so they stay local.
        shutil.copytree(report, staging / REPORT_DIR, ignore=shutil.ignore_patterns(*LOCAL_ONLY_REPORT_FILES))
    functional_file = report / FUNCTIONAL_FILE
    functional = io.read_json(functional_file) if functional_file.is_file() else None
    canonical_forms = {
        m["name"]: recorded_canonical_form(folder) for m, folder in zip(spec.members, local, strict=True)
    }
    io.write_text(staging / "README.md", model_card(spec, test_metrics, repo_id, functional, canonical_forms))
    space_files(staging)
    return staging


# What a Space built from the bundle installs: the versions this recipe is tested with (the installed
# ones when staging, where they are installed), and Gradio for the app.
SPACE_PACKAGES = ("torch", "transformers", "tokenizers", "safetensors", "huggingface_hub", "accelerate", "numpy",
                  "scipy", "scikit-learn", "joblib", "threadpoolctl", "pyyaml", "gradio")  # fmt: skip
SHIPPED = (".py", "cases.tsv", "README.md", "LICENSE")  # what the bundle's copy of hf_trainer holds
SPACE_APP = '''"""Gradio Space: the UnSmile ensemble of this repository (the app of hf_trainer/serving/app.py)."""

import os

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # before Gradio is imported

from pathlib import Path

from hf_trainer.serving.app import build_app, launch, test_metrics
from hf_trainer.serving.inference import Ensemble

HERE = Path(__file__).resolve().parent
app = build_app(Ensemble.from_pretrained(str(HERE)), test_metrics(str(HERE)))

if __name__ == "__main__":
    # Hugging Face Spaces set GRADIO_SERVER_NAME=0.0.0.0; anywhere else the app stays on this machine.
    launch(app, os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1"), int(os.environ.get("GRADIO_SERVER_PORT", "7860")))
'''


def space_requirements() -> str:
    """requirements.txt of the Space bundle, every package pinned (`pinned_version`)."""
    versions = {package: pinned_version(package) for package in SPACE_PACKAGES}
    return "\n".join(f"{p}=={v}" if v else p for p, v in versions.items()) + "\n"


def space_files(staging: Path) -> None:
    """app.py, requirements.txt and a copy of the hf_trainer package (Python files and the functional
    suite; no caches), so a Space made from the repository runs without installing this recipe."""
    package = Path(__file__).resolve().parent.parent

    def not_shipped(folder: str, names: list[str]) -> set[str]:  # an allow-list: code and the suite
        return {
            n for n in names if not (Path(folder, n).is_dir() and n != "__pycache__" or n.endswith(SHIPPED))
        }

    shutil.copytree(package, staging / "hf_trainer", ignore=not_shipped)
    io.write_text(staging / "app.py", SPACE_APP)
    io.write_text(staging / "requirements.txt", space_requirements())


LOCAL_ONLY_REPORT_FILES = (ERRORS_FILE,)


def publish_bundle(staging_dir: str | Path, repo_id: str, *, private: bool = False, api=None) -> None:
    """Create the repository if needed and upload the staged bundle in one commit."""
    from huggingface_hub import HfApi

    api = api or HfApi()
    api.create_repo(repo_id, private=private, exist_ok=True)
    api.upload_folder(repo_id=repo_id, folder_path=str(staging_dir), commit_message="Upload UnSmile ensemble")
    logger.info("Published %s (%s)", repo_id, ", ".join(sorted(p.name for p in Path(staging_dir).iterdir())))


def publish_member(
    member_dir: str | Path,
    repo_id: str,
    *,
    private: bool = False,
    api=None,
    commit_message: str = "Upload UnSmile member (final model)",
) -> str:
    """Upload a trained member's final model to `repo_id` (a no-op commit when it is already there:
    a member the Trainer pushed during training, or one trained before --push_to_hub was given).
    The member's kind says which files (`hub_files`): never the epoch checkpoints, the prepared data,
    pickles (training_args.bin) or the predictions, which hold the data's gold labels."""
    from huggingface_hub import HfApi

    allow_patterns = list(member_class(folder_kind(member_dir)).hub_files)
    api = api or HfApi()
    created = api.create_repo(repo_id, private=private, exist_ok=True)
    repo_id = getattr(created, "repo_id", None) or repo_id  # a bare name lands in the user's namespace
    api.upload_folder(
        repo_id=repo_id,
        folder_path=str(member_dir),
        commit_message=commit_message,
        allow_patterns=allow_patterns,
        ignore_patterns=["checkpoint-*/**", "prepared_data/**"],
    )
    logger.info("Published member %s -> %s", member_dir, repo_id)
    return repo_id


def publish_trained_member(member_dir: str | Path, training_args, metrics: dict) -> str:
    """`train.py --push_to_hub`: the member, once its training ends, as `publish_member` uploads it,
    to --hub_model_id (default: the output folder's name in the token's namespace). Not the Trainer's
    push of the whole output folder, which also uploads training_args.bin (a pickle) and, under DDP,
    the prepared data; `--hub_strategy every_save` still adds the Trainer's pushes while it trains."""
    from huggingface_hub import HfApi

    val = (metrics.get("val") or {}).get("f1_macro")
    return publish_member(
        member_dir,
        training_args.hub_model_id or Path(member_dir).name,
        private=bool(training_args.hub_private_repo),
        api=HfApi(token=training_args.hub_token),
        commit_message=f"Best checkpoint: val macro F1 {val:.4f}"
        if val is not None
        else "Upload UnSmile member",
    )


__all__ = [
    "HubAccessError",
    "check_hub_access",
    "publish_bundle",
    "publish_member",
    "publish_trained_member",
    "stage_bundle",
]
