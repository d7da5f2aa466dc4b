"""The whole pipeline behind run_all.sh: stages, completion markers, resuming, the summary.

Each stage runs one recipe as a subprocess, with its output shown and kept in
<output_dir>/logs/<stage>.log. A stage that finishes writes <output_dir>/.pipeline/<stage>.json
holding a fingerprint of its configuration and inputs; a rerun skips a stage whose fingerprint
still matches and redoes one whose inputs or configuration changed (and so every stage that
depends on it). A training stage killed mid-way resumes from its last epoch checkpoint.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import logging
import os
import shlex
import subprocess
import sys
import time
from dataclasses import dataclass, field, fields
from pathlib import Path

from . import io
from .configs import DataArguments
from .labels import UNSMILE_TRAIN_FILE, UNSMILE_VALID_FILE

logger = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parent.parent
RECIPES = REPO_ROOT / "recipes"
DEMO_DATA = RECIPES / "demo_data"
DEMO_TRAIN, DEMO_TEST = DEMO_DATA / "demo_train.tsv", DEMO_DATA / "demo_test.tsv"
DESIGN_MODELS = ["kcelectra", "soongsilbert", "roberta"]
DEMO_MODELS = ["tiny-electra", "tiny-bert", "tiny-roberta"]
DEMO_EPOCHS = "5"
MARKERS = ".pipeline"

HELP = """\
Run the whole UnSmile pipeline: data preparation -> train each model -> ensemble weights ->
thresholds -> the one test evaluation -> summary. Rerunning skips finished stages whose inputs and
configuration are unchanged and resumes an interrupted training from its last checkpoint.

Any option not listed here is passed to every training run (recipes/train.py), for example
`--epochs 100 --lr 3e-5` or any TrainingArguments flag; data options of train.py (such as
--val_size or --aeda_factor) go to the data preparation stage.
"""


@dataclass
class PipelineOptions:
    data_dir: str | None = None
    output_dir: str = "outputs"
    models: list[str] = field(default_factory=lambda: list(DESIGN_MODELS))
    demo: bool = False
    push_to_hub: bool = False
    hub_org: str | None = None
    hub_private_repo: bool = False
    launcher: str = "accelerate"
    extra: list[str] = field(default_factory=list)


def parse_options(argv: list[str]) -> PipelineOptions:
    parser = argparse.ArgumentParser(
        prog="run_all.sh", description=HELP, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--data_dir", help="Folder with the UnSmile TSVs (default: the Hub; with --demo, the demo sample)"
    )
    parser.add_argument(
        "--output_dir", default="outputs", help="Everything goes below this folder (default: outputs)"
    )
    parser.add_argument(
        "--models", nargs="+", help=f"Presets or Hub ids to train (default: {' '.join(DESIGN_MODELS)})"
    )
    parser.add_argument(
        "--demo",
        action="store_true",
        help=f"Tiny local models ({' '.join(DEMO_MODELS)}), {DEMO_EPOCHS} epochs, the shipped synthetic sample "
        "unless --data_dir is given: minutes on a CPU, no download",
    )
    parser.add_argument(
        "--push_to_hub", action="store_true", help="Publish the members and the ensemble bundle"
    )
    parser.add_argument(
        "--hub_org", help="Hub user or organisation for the repositories (with --push_to_hub)"
    )
    parser.add_argument("--hub_private_repo", action="store_true", help="Create private repositories")
    parser.add_argument(
        "--launcher",
        choices=["accelerate", "python"],
        default="accelerate",
        help="How training runs: `accelerate launch` (default; uses your accelerate config) or plain python",
    )
    args, extra = parser.parse_known_args(argv)
    if args.push_to_hub and not args.hub_org:
        parser.error("--push_to_hub needs --hub_org ORG")
    models = args.models or (DEMO_MODELS if args.demo else DESIGN_MODELS)
    data_dir = args.data_dir
    return PipelineOptions(
        data_dir=data_dir,
        output_dir=args.output_dir,
        models=list(models),
        demo=args.demo,
        push_to_hub=args.push_to_hub,
        hub_org=args.hub_org,
        hub_private_repo=args.hub_private_repo,
        launcher=args.launcher,
        extra=extra,
    )


def split_extra(extra: list[str]) -> tuple[list[str], list[str]]:
    """Split pass-through flags into (data preparation flags, training flags)."""
    data_fields = {f.name for f in fields(DataArguments)}
    data, train = [], []
    i = 0
    while i < len(extra):
        j = i + 1
        while j < len(extra) and not extra[j].startswith("--"):
            j += 1
        group = extra[i:j]
        name = group[0].removeprefix("--").split("=")[0].replace("-", "_")
        (data if name in data_fields else train).extend(group)
        i = j
    return data, train


def accelerate_defaults() -> list[str]:
    """Without an accelerate config, say what `accelerate launch` would otherwise warn it guessed:
    one process, and mixed precision left to the recipe (--precision)."""
    from accelerate.commands.config import default_config_file

    if Path(default_config_file).is_file() or os.environ.get("ACCELERATE_CONFIG_FILE"):
        return []
    return [
        "--num_processes",
        "1",
        "--num_machines",
        "1",
        "--mixed_precision",
        "no",
        "--dynamo_backend",
        "no",
    ]


def fingerprint(*parts) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:16]


@dataclass
class Stage:
    name: str
    command: list[str]
    inputs: list = field(default_factory=list)  # anything that, changed, must redo the stage
    output: Path | None = None  # a folder owned by this stage (moved aside when its config changes)

    def key(self) -> str:
        # Paths of the interpreter and of this checkout do not change what a stage computes.
        portable = [
            "python" if part == sys.executable else part.replace(str(REPO_ROOT), ".") for part in self.command
        ]
        return fingerprint(self.name, portable, self.inputs)


class StageFailed(RuntimeError):
    pass


class Pipeline:
    def __init__(self, options: PipelineOptions) -> None:
        self.options = options
        self.out = Path(options.output_dir)
        self.markers = self.out / MARKERS
        self.logs = self.out / "logs"
        self.data_extra, self.train_extra = split_extra(options.extra)
        self.timings: dict[str, float] = {}

    # -- stage definitions -------------------------------------------------------------------
    def python(self, recipe: str, *args: str) -> list[str]:
        return [sys.executable, str(RECIPES / recipe), *args]

    def member_name(self, model: str) -> str:
        return Path(model.rstrip("/")).name

    def member_repo(self, model: str) -> str:
        return f"{self.options.hub_org}/unsmile-{self.member_name(model)}"

    def data_inputs(self) -> list:
        return [io.sha256_file(path) for path in self.data_files()] or ["hub:smilegate-ai/kor_unsmile"]

    def data_files(self) -> list[Path]:
        if self.options.data_dir:
            return [Path(self.options.data_dir) / name for name in (UNSMILE_TRAIN_FILE, UNSMILE_VALID_FILE)]
        return [DEMO_TRAIN, DEMO_TEST] if self.options.demo else []

    def data_source_args(self) -> list[str]:
        if self.options.data_dir:
            return ["--data_dir", self.options.data_dir]
        if self.options.demo:  # the shipped sample, in UnSmile's format: train -> train/val, test as is
            return ["--train_file", str(DEMO_TRAIN), "--test_file", str(DEMO_TEST)]
        return []

    def train_command(self, model: str) -> list[str]:
        script = str(RECIPES / "train.py")
        if self.options.launcher == "accelerate":
            launcher = [sys.executable, "-m", "accelerate.commands.launch", *accelerate_defaults(), script]
        else:
            launcher = [sys.executable, script]
        preset_config = RECIPES / "configs" / f"{model}.yaml"
        if self.options.demo or model.startswith("tiny-"):
            args = [str(RECIPES / "configs" / "tiny.yaml"), "--model", model]
            args += ["--epochs", DEMO_EPOCHS] if self.options.demo else []
        elif preset_config.is_file():
            args = [str(preset_config)]
        elif "/" in model or Path(model).exists():
            args = ["--model_name_or_path", model]
        else:
            args = ["--model", model]
        args += [
            "--prepared_data_dir",
            str(self.out / "data"),
            "--output_dir",
            str(self.out / self.member_name(model)),
            "--disable_tqdm",
            "false",
        ]
        if self.options.push_to_hub:
            args += ["--push_to_hub", "--hub_model_id", self.member_repo(model)]
            args += ["--hub_private_repo", "true"] if self.options.hub_private_repo else []
        return launcher + args + self.train_extra

    def stages(self) -> list[Stage]:
        out = self.out
        data = Stage(
            "data",
            self.python(
                "prepare_data.py",
                *self.data_source_args(),
                "--output_dir",
                str(out / "data"),
                *self.data_extra,
            ),
            inputs=self.data_inputs(),
            output=out / "data",
        )
        stages = [data]
        trains = []
        for model in self.options.models:
            stage = Stage(
                f"train_{self.member_name(model)}",
                self.train_command(model),
                inputs=[data.key()],
                output=out / self.member_name(model),
            )
            trains.append(stage)
        stages += trains
        members = [str(out / self.member_name(m)) for m in self.options.models]
        ensemble = Stage(
            "ensemble",
            self.python("ensemble.py", "--members", *members, "--output_dir", str(out / "ensemble")),
            inputs=[t.key() for t in trains],
        )
        thresholds = Stage(
            "thresholds",
            self.python("thresholds.py", "--ensemble_dir", str(out / "ensemble")),
            inputs=[ensemble.key()],
        )
        # The pipeline evaluates the test split once per new ensemble: --force replaces a report of an
        # older ensemble, and the stage marker keeps a rerun from scoring the same one again.
        evaluate = Stage(
            "evaluate_test",
            self.python("evaluate_test.py", "--ensemble_dir", str(out / "ensemble"), "--force"),
            inputs=[thresholds.key()],
        )
        stages += [ensemble, thresholds, evaluate]
        if self.options.push_to_hub:
            stages.append(
                Stage(
                    "publish",
                    [
                        sys.executable,
                        "-m",
                        "hf_trainer.pipeline",
                        "--publish",
                        str(out),
                        self.options.hub_org,
                        *(self.member_repo(m) for m in self.options.models),
                        *(["--private"] if self.options.hub_private_repo else []),
                    ],
                    inputs=[evaluate.key()],
                )
            )
        return stages

    # -- running ---------------------------------------------------------------------------
    def marker(self, stage: Stage, kind: str = "done") -> Path:
        return self.markers / f"{stage.name}.{kind}.json"

    def is_done(self, stage: Stage) -> bool:
        marker = self.marker(stage)
        return marker.is_file() and io.read_json(marker).get("fingerprint") == stage.key()

    def prepare_output(self, stage: Stage) -> None:
        """Keep an interrupted run of the same config (to resume it); move aside one of another config."""
        if stage.output is None or not stage.output.exists():
            return
        started = self.marker(stage, "started")
        same = started.is_file() and io.read_json(started).get("fingerprint") == stage.key()
        if not same:
            stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
            aside = stage.output.with_name(f"{stage.output.name}.old-{stamp}")
            logger.info(
                "Stage %s: its configuration or inputs changed; moving %s to %s",
                stage.name,
                stage.output,
                aside,
            )
            stage.output.rename(aside)

    def run_stage(self, stage: Stage) -> None:
        self.prepare_output(stage)
        io.write_json(self.marker(stage, "started"), {"fingerprint": stage.key(), "command": stage.command})
        log_path = self.logs / f"{stage.name}.log"
        log_path.parent.mkdir(parents=True, exist_ok=True)
        logger.info("Stage %s: start (log: %s)", stage.name, log_path)
        logger.debug("Stage %s: %s", stage.name, shlex.join(stage.command))
        start = time.perf_counter()
        env = os.environ | {
            "PYTHONUNBUFFERED": "1",
            "PYTHONPATH": os.pathsep.join([str(REPO_ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]),
        }
        with open(log_path, "ab") as log:
            log.write(
                f"\n==== {dt.datetime.now().isoformat(timespec='seconds')} {shlex.join(stage.command)}\n".encode()
            )
            process = subprocess.Popen(
                stage.command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env
            )
            assert process.stdout is not None
            for chunk in iter(lambda: process.stdout.read1(4096), b""):
                log.write(chunk)
                sys.stdout.buffer.write(chunk)
                sys.stdout.flush()
            code = process.wait()
        seconds = time.perf_counter() - start
        if code != 0:
            raise StageFailed(
                f"stage '{stage.name}' failed (exit {code}) after {seconds:.0f}s; see {log_path}"
            )
        self.timings[stage.name] = seconds
        io.write_json(
            self.marker(stage),
            {
                "fingerprint": stage.key(),
                "seconds": round(seconds, 1),
                "finished_at": dt.datetime.now().isoformat(timespec="seconds"),
            },
        )
        logger.info("Stage %s: done in %s", stage.name, _duration(seconds))

    def run(self) -> dict:
        if self.options.push_to_hub:
            from .hub import check_hub_access

            account = check_hub_access()
            logger.info("Hub access checked (account %s); publishing to %s", account, self.options.hub_org)
        total = time.perf_counter()
        for stage in self.stages():
            if self.is_done(stage):
                logger.info("Stage %s: unchanged since its last run, skipped", stage.name)
                continue
            self.run_stage(stage)
        summary = self.summary(time.perf_counter() - total)
        io.write_json(self.out / "summary.json", summary)
        log_summary(summary)
        return summary

    def summary(self, seconds: float) -> dict:
        models = {}
        for model in self.options.models:
            folder = self.out / self.member_name(model)
            metrics = io.read_json(folder / "metrics.json")
            models[self.member_name(model)] = {
                "best_val_f1_macro": metrics["val"]["f1_macro"],
                "best_epoch": metrics["best_epoch"],
                "epochs_trained": metrics["epochs_trained"],
                "early_stopped": metrics["early_stopped"],
            }
        spec = io.read_json(self.out / "ensemble" / "ensemble.json")
        test = io.read_json(self.out / "ensemble" / "report" / "test_metrics.json")
        return {
            "demo": self.options.demo,
            "data": self.options.data_dir
            or ("demo sample" if self.options.demo else "hub:smilegate-ai/kor_unsmile"),
            "models": models,
            "weights": {m["name"]: m["weight"] for m in spec["members"]},
            "val_f1_macro_tuned": spec["threshold_report"]["val_f1_macro_tuned"],
            "test_f1_macro_at_0.5": test["systems"]["ensemble @0.5"]["f1_macro"],
            "test_f1_macro_tuned": test["systems"]["ensemble tuned"]["f1_macro"],
            "test_f1_micro_tuned": test["systems"]["ensemble tuned"]["f1_micro"],
            "report": str(self.out / "ensemble" / "report" / "report.md"),
            "stage_seconds": self.timings,
            "total_seconds": round(seconds, 1),
        }


def _duration(seconds: float) -> str:
    minutes, secs = divmod(int(round(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m{secs:02d}s" if hours else f"{minutes}m{secs:02d}s"


def log_summary(summary: dict) -> None:
    lines = ["", "=" * 72, "Summary"]
    if summary["demo"]:
        lines.append(
            "DEMO RUN: tiny randomly initialised models; with the shipped synthetic sample unless --data_dir"
        )
        lines.append("was given. The numbers prove the pipeline works, not the quality of the recipe.")
    lines.append(f"data: {summary['data']}")
    for name, m in summary["models"].items():
        lines.append(
            f"  {name:<16} best val macro F1 {m['best_val_f1_macro']:.4f} at epoch {m['best_epoch']:g} "
            f"({m['epochs_trained']:g} epochs{', early stop' if m['early_stopped'] else ''})"
        )
    lines.append("ensemble weights: " + ", ".join(f"{k} {v:.3f}" for k, v in summary["weights"].items()))
    lines.append(
        f"test macro F1: {summary['test_f1_macro_at_0.5']:.4f} at 0.5, {summary['test_f1_macro_tuned']:.4f} with "
        f"tuned thresholds (micro {summary['test_f1_micro_tuned']:.4f})"
    )
    lines.append(f"report and plots: {summary['report']} (and the PNGs beside it)")
    lines.append(
        f"total time: {_duration(summary['total_seconds'])} (stages run now: {len(summary['stage_seconds'])})"
    )
    lines.append("=" * 72)
    logger.info("%s", "\n".join(lines))


def publish(output_dir: str, org: str, member_repos: list[str], private: bool) -> None:
    from .hub import publish_bundle, stage_bundle

    out = Path(output_dir)
    repo_id = f"{org}/unsmile-ensemble"
    staging = stage_bundle(out / "ensemble", out / "hub_bundle", member_repos, repo_id)
    publish_bundle(staging, repo_id, private=private)


def main(argv: list[str] | None = None) -> int:
    from .log import setup_logging

    argv = list(sys.argv[1:] if argv is None else argv)
    setup_logging()
    if argv and argv[0] == "--publish":
        private = "--private" in argv
        rest = [a for a in argv[1:] if a != "--private"]
        publish(rest[0], rest[1], rest[2:], private)
        return 0
    options = parse_options(argv)
    try:
        Pipeline(options).run()
    except StageFailed as err:
        logger.error("%s", err)
        logger.error("Earlier stages' results are kept; fix the cause and run the same command again.")
        return 1
    except Exception as err:  # e.g. HubAccessError: one clear line, not a traceback
        from .hub import HubAccessError

        if isinstance(err, HubAccessError):
            logger.error("%s", err)
            return 2
        raise
    return 0


if __name__ == "__main__":
    sys.exit(main())
