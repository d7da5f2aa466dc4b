"""Publishing to the Hugging Face Hub: an early access check, the ensemble bundle and its model card.

Tokens come from the usual places (HF_TOKEN, `hf auth login`) and are never logged or written.
"""

from __future__ import annotations

import json
import logging
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path

from . import io
from .ensemble import EnsembleSpec
from .errors import InvalidArgument, UserError
from .functional import FUNCTIONAL_FILE, functional_card_md
from .members import entry_kind, folder_kind, member_class
from .members.base import recorded_canonical_form
from .report import KCBERT_BASELINE
from .test_once import ERRORS_FILE, METRICS_FILE, REPORT_DIR

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


# What each canonical-form step undoes, in the card's words (hf_trainer/canonical.py).
CANONICAL_STEP_WORDS = {
    "width": "full-width forms", "invisible": "invisible characters", "latin": "Latin look-alikes",
    "compose": "letters typed one by one", "repeats": "long repeats",
}  # fmt: skip


def spelling_games_line(canonical_forms: Mapping[str, Sequence[str]] | None) -> str:
    """The card's line on spelling games, from the canonical form each member records (member.json)."""
    still = (
        "spaces inside words, initial-consonant abbreviations (ㅅㅂ) and look-alike syllables still cost "
        "accuracy (the report's robustness section, where there is one, says how much)."
    )
    forms = {tuple(steps) for steps in (canonical_forms or {}).values()}
    if not forms:
        return f"- Spelling games: {still}"

    def undone(steps: Sequence[str]) -> str:
        words = [CANONICAL_STEP_WORDS[step] for step in steps]
        return ", ".join(words[:-1]) + " and " + words[-1] if len(words) > 1 else "".join(words) or "nothing"

    if len(forms) == 1:
        (steps,) = forms
        served = (
            f"the members serve the canonical form they were trained with ({undone(steps)} undone)"
            if steps
            else "the members were trained and are served without the canonical form (nothing is undone)"
        )
    else:
        served = (
            "each member serves the canonical form it was trained with ("
            + "; ".join(f"{name}: {undone(steps)} undone" for name, steps in canonical_forms.items())
            + ")"
        )
    return f"- Spelling games: {served}; {still}"


def model_card(
    spec: EnsembleSpec,
    test_metrics: dict | None,
    repo_id: str,
    functional: dict | None = None,
    canonical_forms: Mapping[str, Sequence[str]] | None = None,
) -> str:
    """README.md for the ensemble repository (`functional`: report/functional_tests.json, if any;
    `canonical_forms`: each member's canonical-form steps, from its member.json)."""
    lines = [
        "---",
        "language: ko",
        "license: cc-by-nc-nd-4.0",
        "library_name: hf_trainer_unsmile",
        "pipeline_tag: text-classification",
        "tags: [hate-speech, multi-label, korean, unsmile, ensemble]",
        "datasets: [smilegate-ai/kor_unsmile]",
        # A Space made from this repository runs app.py (the Space bundle, see space_files).
        "sdk: gradio",
        f"sdk_version: {pinned_version('gradio')}",
        "app_file: app.py",
        "---",
        "",
        f"# {repo_id.split('/')[-1]}: Korean multi-label hate-speech classifier (UnSmile ensemble)",
        "",
        f"{len(spec.labels)} labels per comment: "
        + ", ".join(spec.labels)
        + ". "
        + _composition(spec, test_metrics),
        *_members_section(spec),
    ]
    if test_metrics:
        lines += _test_section(spec, test_metrics) + _provenance_lines(test_metrics)
        lines += ["", "The full report with plots is in `report/`."]
    if functional:
        lines += functional_card_md(functional)
    return "\n".join(lines + _usage_and_limits(repo_id, canonical_forms))


def _members_section(spec: EnsembleSpec) -> list[str]:
    """The members' weights and val scores, and what each is and how it loads (from its kind)."""
    lines = [
        "",
        "## Members",
        "",
        "| member | weight | val macro F1 (0.5) | val macro F1 (tuned) |",
        "|---|---:|---:|---:|",
    ]
    for m in spec.members:
        lines.append(
            f"| {m.get('hub_id') or m['name']} | {m['weight']:.3f} | {m.get('val_f1_macro', float('nan')):.4f} | "
            f"{m.get('val_f1_macro_tuned', float('nan')):.4f} |"
        )
    lines.append("")
    for m in spec.members:
        where = m.get("hub_id") or m["name"]
        lines.append(f"- {where}: {member_class(entry_kind(m, None)).card_text.format(repo_id=where)}.")
    return lines


def _test_section(spec: EnsembleSpec, test_metrics: dict) -> list[str]:
    """Every system's test macro F1 with its interval, the published baseline, the per-label table."""
    systems = test_metrics["systems"]
    lines = [
        "",
        "## Test results",
        "",
        "| system | macro F1 [95% bootstrap interval] | micro F1 |",
        "|---|---:|---:|",
    ]
    intervals = test_metrics.get("bootstrap_ci", {}).get("systems", {})
    for name, result in systems.items():
        ci = intervals.get(name, {}).get("f1_macro")
        shown = f"{result['f1_macro']:.4f}" + (f" [{ci[0]:.3f}, {ci[1]:.3f}]" if ci else "")
        lines.append(f"| {name} | {shown} | {result['f1_micro']:.4f} |")
    lines.append(
        f"| {KCBERT_BASELINE['name']} | {KCBERT_BASELINE['f1_macro']:.2f} | {KCBERT_BASELINE['f1_micro']:.2f} |"
    )
    final = systems.get("ensemble tuned")
    if final:
        lines += [
            "",
            "| label | threshold | precision | recall | F1 | support |",
            "|---|---:|---:|---:|---:|---:|",
        ]
        for j, (name, row) in enumerate(final["per_label"].items()):
            lines.append(
                f"| {name} | {spec.thresholds[j]:.3f} | {row['precision']:.4f} | {row['recall']:.4f} | "
                f"{row['f1']:.4f} | {row['support']} |"
            )
    count = test_metrics.get("test_evaluation", 1)
    return lines + ["", f"Test evaluations of the output folder behind these numbers: {count}."]


def _provenance_lines(test_metrics: dict) -> list[str]:
    """The base models' Hub commits and the data source the report recorded."""
    lines = []
    if test_metrics.get("base_models"):
        lines += ["", "Base models (Hub commit fine-tuned from):", ""]
        for name, base in test_metrics["base_models"].items():
            where = (
                f"`{base['source']}` at commit `{base.get('commit') or 'local'}`"
                if base
                else "built from scratch"
            )
            lines.append(f"- {name}: {where}")
    if test_metrics.get("data_source"):
        lines += ["", f"Data: `{json.dumps(test_metrics['data_source'], ensure_ascii=False)}`"]
    return lines


def _usage_and_limits(repo_id: str, canonical_forms: Mapping[str, Sequence[str]] | None) -> list[str]:
    return [
        "",
        "## Try it in a browser",
        "",
        "This repository is also a Gradio Space bundle: [app.py](app.py) serves this ensemble (scores, the "
        "decided labels with their thresholds, the spans behind each, a file tab), with the pinned "
        "[requirements.txt](requirements.txt) and the recipe's `hf_trainer` package beside it. Create a Space "
        "from it (same files; the front matter above names the SDK and the app file), or run it locally: "
        "`pip install -r requirements.txt && python app.py` (127.0.0.1:7860, no analytics, no share link; "
        "a Space sets GRADIO_SERVER_NAME=0.0.0.0 itself).",
        "",
        "## How to use",
        "",
        "```python",
        "from hf_trainer import Ensemble  # this recipe's package",
        "",
        f'ens = Ensemble.from_pretrained("{repo_id}")',
        'ens.predict(["분석할 댓글"])  # per comment: every label\'s score and the labels over their thresholds',
        "```",
        "",
        "## Intended use and limitations",
        "",
        "- Meant for research on, and assisted moderation of, Korean online comments. It must not be the only "
        "basis of decisions about people: hate-speech labels are subjective, annotators disagree, and the "
        "model inherits the biases and the period of its training data (Korean news and community comments).",
        "- Rare classes (연령, 기타 혐오) are learnt from few examples (partly AEDA copies); expect lower "
        "precision and recall there. Scores are not calibrated probabilities across domains.",
        spelling_games_line(canonical_forms),
        "- Sarcasm, new slang and text far from the training domain are often misclassified.",
        "",
        "## Data and licence",
        "",
        "Trained on the Korean UnSmile dataset (Smilegate AI, 2022), licensed CC BY-NC-ND 4.0: "
        'non-commercial use only. Cite: "Korean UnSmile dataset: Human-annotated Multi-label Korean Hate '
        'Speech Dataset", Smilegate AI, 2022.',
        "",
    ]


def _composition(spec: EnsembleSpec, test_metrics: dict | None) -> str:
    """The card's first sentences, from the data: what the members are, how often test was scored."""
    kinds = [entry_kind(m, None) for m in spec.members]
    parts = [
        f"{kinds.count(kind)} {member_class(kind).card_noun[kinds.count(kind) != 1]}"
        for kind in dict.fromkeys(kinds)
    ]
    count = (test_metrics or {}).get("test_evaluation")
    scored = (
        "the test split (UnSmile `valid`) was not scored yet"
        if count is None
        else f"the test split (UnSmile `valid`) was scored {count} time{'s' if count != 1 else ''}"
    )
    return (
        f"An ensemble of {len(spec.members)} member{'s' if len(spec.members) != 1 else ''} trained on the Korean "
        f"UnSmile dataset ({', '.join(parts)}); weights and per-label thresholds were chosen on a validation "
        f"split, and {scored}."
    )


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
SPACE_REQUIREMENTS = {"gradio": "6.31.0"}
SHIPPED = (".py", "cases.tsv", "README.md", "LICENSE")  # what the bundle's copy of hf_trainer holds
SPACE_APP = '''"""Gradio Space: the UnSmile ensemble of this repository (the app of hf_trainer/app.py)."""

import os

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # before Gradio is imported

from pathlib import Path

from hf_trainer.app import build_app, launch, test_metrics
from hf_trainer.inference import Ensemble

HERE = Path(__file__).resolve().parent
app = build_app(Ensemble.from_pretrained(str(HERE)), test_metrics(str(HERE)))

if __name__ == "__main__":
    # Hugging Face Spaces set GRADIO_SERVER_NAME=0.0.0.0; anywhere else the app stays on this machine.
    launch(app, os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1"), int(os.environ.get("GRADIO_SERVER_PORT", "7860")))
'''


def pinned_version(package: str) -> str | None:
    """The installed version (torch without its local build tag), else SPACE_REQUIREMENTS' pin."""
    from importlib import metadata

    try:
        return metadata.version(package).split("+")[0]
    except metadata.PackageNotFoundError:
        return SPACE_REQUIREMENTS.get(package)


def space_requirements() -> str:
    """requirements.txt of the Space bundle, every package pinned (`pinned_version`)."""
    versions = {package: pinned_version(package) for package in SPACE_PACKAGES}
    return "\n".join(f"{p}=={v}" if v else p for p, v in versions.items()) + "\n"


def space_files(staging: Path) -> None:
    """app.py, requirements.txt and a copy of the hf_trainer package (Python files and the functional
    suite; no caches), so a Space made from the repository runs without installing this recipe."""
    package = Path(__file__).resolve().parent

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
    "model_card",
    "publish_bundle",
    "publish_member",
    "publish_trained_member",
    "stage_bundle",
]
