"""run_all.sh: the demo end to end, stage skipping, reruns after changes, failures, publishing."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from hf_trainer.hub.publish import (
    HubAccessError,
    check_hub_access,
    publish_bundle,
    publish_member,
    stage_bundle,
)
from hf_trainer.pipeline.stages import StageGraph, parse_options, split_extra
from hf_trainer.utils import io
from tests.helpers import DEMO, DEMO_TEST, DEMO_TRAIN, REPO_ROOT, FakeHubApi, run_all

# The preflight stages are run_all.sh's own tests' business (tests/test_hub_models.py, and the stage
# graph below); these tests skip them, with the same stages after them.
QUICK_DEMO = (*DEMO, "--skip_preflight")


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo") / "outputs"
    result = run_all(*QUICK_DEMO, "--output_dir", str(out))
    return out, result.stdout


def test_demo_writes_every_artefact_and_the_summary(demo):
    out, stdout = demo
    for model in ("tiny-electra", "tiny-bert", "tiny-roberta"):
        for name in ("model.safetensors", "metrics.json", "predictions/val.npz", "predictions/test.npz"):
            assert (out / model / name).is_file(), (model, name)
        assert (out / "logs" / f"train_{model}.log").is_file()
    for name in (
        "ensemble.json",
        "report/report.md",
        "report/test_metrics.json",
        "report/f1_per_label.png",
        "report/threshold_curves.png",
        "report/training_curves.png",
    ):
        assert (out / "ensemble" / name).is_file(), name
    for name in ("char_ngram.safetensors", "char_ngram.json", "metrics.json", "predictions/test.npz"):
        assert (out / "char-ngram" / name).is_file(), name  # the CPU member trains beside the tiny ones
    summary = json.loads((out / "summary.json").read_text())
    assert summary["demo"] and set(summary["models"]) == {
        "tiny-electra",
        "tiny-bert",
        "tiny-roberta",
        "char-ngram",
    }
    assert summary["test_f1_macro_tuned"] > 0.3 and sum(summary["weights"].values()) == pytest.approx(1)
    assert "DEMO RUN" in stdout and "test macro F1:" in stdout and "ensemble weights:" in stdout
    # A member trained without epochs is summarised as such, with no epoch fields behind it.
    assert summary["models"]["char-ngram"]["best_epoch"] is None and "(no epochs: one fit)" in stdout
    assert "best_epoch" not in json.loads((out / "char-ngram" / "metrics.json").read_text())
    for stage in ("data", "train_tiny-bert", "ensemble", "thresholds", "evaluate_test", "robustness"):
        assert f"Stage {stage}: done in" in stdout
    # The spelling-game figures of the one test evaluation, in its report.
    robustness = json.loads((out / "ensemble" / "report" / "robustness.json").read_text(encoding="utf-8"))
    assert set(robustness["systems"]) == {
        "ensemble",
        "tiny-electra",
        "tiny-bert",
        "tiny-roberta",
        "char-ngram",
    }
    report = (out / "ensemble" / "report" / "report.md").read_text(encoding="utf-8")
    assert "## Spelling games (robustness)" in report
    # The functional test suite's stage: its figures, its plot and its section of the report.
    assert "Stage functional_tests: done in" in stdout
    functional = json.loads(
        (out / "ensemble" / "report" / "functional_tests.json").read_text(encoding="utf-8")
    )
    assert set(functional["systems"]) == set(robustness["systems"]) and functional["cases"] >= 1500
    assert (out / "ensemble" / "report" / "functional_tests.png").stat().st_size > 10_000
    assert report.index("## Functional tests") < report.index("## Inputs")


def test_rerun_skips_finished_stages_and_a_subset_reruns_only_what_depends_on_it(demo):
    out, _ = demo
    model_before = (out / "tiny-bert" / "model.safetensors").stat().st_mtime_ns
    first_report = (out / "ensemble" / "report" / "report.md").read_text(encoding="utf-8")
    assert "Test evaluations of this output folder: 1.**" in first_report
    again = run_all(*QUICK_DEMO, "--output_dir", str(out)).stdout
    # data, 4 trainings, ensemble, thresholds, evaluate_test, robustness, functional_tests
    assert again.count("unchanged since its last run, skipped") == 10 and "Stage" in again
    subset_args = [*QUICK_DEMO, "--output_dir", str(out), "--models", "tiny-bert", "tiny-roberta"]
    refused = run_all(*subset_args, check=False)
    assert refused.returncode == 2 and "already scored 1 time(s)" in refused.stdout
    assert "--rescore_test" in refused.stdout and "Stage" not in refused.stdout  # refused before any stage
    subset = run_all(*subset_args, "--rescore_test").stdout
    for stage in ("data", "train_tiny-bert", "train_tiny-roberta"):
        assert f"Stage {stage}: unchanged since its last run, skipped" in subset
    for stage in ("ensemble", "thresholds", "evaluate_test", "robustness", "functional_tests"):
        assert f"Stage {stage}: done in" in subset
    assert (out / "tiny-bert" / "model.safetensors").stat().st_mtime_ns == model_before
    spec = io.read_json(out / "ensemble" / "ensemble.json")
    assert [m["name"] for m in spec["members"]] == ["tiny-bert", "tiny-roberta"]
    # The earlier ensemble (with its report) was moved aside, not overwritten; the count went up.
    (old,) = out.glob("ensemble.old-*")
    assert (old / "report" / "report.md").read_text(encoding="utf-8") == first_report
    assert len(io.read_json(old / "ensemble.json")["members"]) == 4
    history = io.read_json(out / "test_evaluations.json")
    assert history["count"] == 2 and len(history["history"]) == 2
    report = (out / "ensemble" / "report" / "report.md").read_text(encoding="utf-8")
    assert (
        "Test evaluations of this output folder: 2.**" in report
        and "treat these numbers as optimistic" in report
    )


def test_changed_config_changes_exactly_the_dependent_stages(tmp_path):
    def keys(*extra):
        graph = StageGraph(parse_options(["--demo", "--output_dir", str(tmp_path), *extra]))
        return {stage.name: stage.fingerprint() for stage in graph.stages()}

    base = keys()
    lr = keys("--lr", "3e-3")
    assert base["data"] == lr["data"]
    assert all(base[name] != lr[name] for name in base if name != "data")
    data = keys("--val_size", "0.2")
    assert all(base[name] != data[name] for name in base)
    assert split_extra(["--val_size", "0.2", "--lr", "1", "--report_to", "none", "wandb"]) == (
        ["--val_size", "0.2"],
        ["--lr", "1", "--report_to", "none", "wandb"],
    )
    # Tokenisation options go to training (it tokenises), the seed to both stages.
    assert split_extra(["--max_length", "256", "--seed", "7", "--val_size", "0.2"]) == (
        ["--seed", "7", "--val_size", "0.2"],
        ["--max_length", "256", "--seed", "7"],
    )


def test_failing_stage_names_itself_and_its_log(tmp_path):
    bad = tmp_path / "bad"
    bad.mkdir()
    demo = REPO_ROOT / "recipes" / "demo_data"
    for name, source in (
        ("unsmile_train_v1.0.tsv", "demo_train.tsv"),
        ("unsmile_valid_v1.0.tsv", "demo_test.tsv"),
    ):
        lines = (demo / source).read_text(encoding="utf-8").splitlines()
        lines[5] = lines[5].replace("\t0\t", "\t7\t", 1)
        (bad / name).write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = run_all("--demo", "--data_dir", str(bad), "--output_dir", str(tmp_path / "out"), check=False)
    assert result.returncode == 1
    log = tmp_path / "out" / "logs" / "data.log"
    assert (
        "stage 'data' failed (exit 2)" in result.stdout and str(log) in result.stdout
    )  # a user error: exit 2
    assert "line 6, column 2 ('여성/가족'): label must be 0 or 1, found '7'" in log.read_text(
        encoding="utf-8"
    )


def test_a_stage_stopped_under_another_configuration_runs_again_for_the_first(tmp_path):
    import sys

    from hf_trainer.pipeline.runner import StageFailed, StageRunner
    from hf_trainer.pipeline.stages import Stage

    out = tmp_path / "out"
    folder = out / "member"

    def writes(text: str, exit_code: int = 0) -> list[str]:
        code = f"import pathlib, sys; p = pathlib.Path({str(folder)!r}); p.mkdir(); (p / 'x').write_text({text!r})"
        return [sys.executable, "-c", f"{code}; sys.exit({exit_code})"]

    runner = StageRunner(out)
    first = Stage("train", writes("first"), output=folder)
    runner.run([first])
    assert runner.is_done(first)
    with pytest.raises(StageFailed):  # another configuration, stopped half way: its output in the folder
        runner.run([Stage("train", writes("second", exit_code=1), output=folder)])
    assert not runner.is_done(first)  # back to the first: its output is no longer there, so it runs again
    runner.run([first])
    assert (folder / "x").read_text() == "first" and runner.is_done(first)


def test_a_test_evaluation_that_failed_may_run_again_but_another_configuration_may_not(tmp_path):
    from hf_trainer.evaluation.test_once import record_evaluation
    from hf_trainer.pipeline.run_all import check_test_not_rescored
    from hf_trainer.pipeline.runner import StageRunner
    from hf_trainer.utils.errors import UserError

    out = tmp_path / "out"
    options = parse_options(["--demo", "--output_dir", str(out)])
    stages = StageGraph(options).stages()
    runner = StageRunner(out)
    record_evaluation(
        out / "ensemble", {"inputs": {}, "f1_macro_tuned": 0.5}
    )  # scored, then the stage failed
    with pytest.raises(UserError, match="would score the test split again"):
        check_test_not_rescored(options, runner, stages)  # nothing says this configuration started it
    evaluate = next(s for s in stages if s.name == "evaluate_test")
    io.write_json(runner.marker(evaluate, "started"), {"fingerprint": evaluate.fingerprint()})
    check_test_not_rescored(options, runner, stages)  # the same configuration, again: allowed, counted
    assert evaluate.run_only_args == ["--force"]
    other = StageGraph(parse_options(["--demo", "--output_dir", str(out), "--lr", "1e-4"])).stages()
    with pytest.raises(UserError, match="would score the test split again"):
        check_test_not_rescored(options, runner, other)


def test_a_valued_debug_goes_to_training_and_a_bare_one_is_the_pipelines(tmp_path):
    options = parse_options(["--demo", "--output_dir", str(tmp_path), "--debug", "underflow_overflow"])
    train = [s for s in StageGraph(options).stages() if s.name.startswith("train_")]
    assert not options.debug and train
    for stage in train:
        i = stage.command.index("--debug")
        assert stage.command[i + 1] == "underflow_overflow"
    assert parse_options(["--demo", "--debug"]).debug


def test_push_without_token_fails_before_any_training(tmp_path):
    env_backup = {k: os.environ.pop(k) for k in ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN") if k in os.environ}
    try:
        result = subprocess.run(
            [
                "bash",
                str(REPO_ROOT / "run_all.sh"),
                "--demo",
                "--output_dir",
                str(tmp_path / "out"),
                "--push_to_hub",
                "--hub_org",
                "someone",
            ],
            capture_output=True,
            text=True,
            env=os.environ | {"HF_HOME": str(tmp_path / "hf")},
            timeout=300,
        )
    finally:
        os.environ.update(env_backup)
    assert result.returncode == 2
    assert "needs a Hugging Face token" in result.stdout
    assert not (tmp_path / "out" / "data").exists()


def test_hub_access_check_never_shows_the_token(caplog):
    secret = "hf_SECRETtoken123"
    with pytest.raises(HubAccessError) as info:
        check_hub_access(api=FakeHubApi(fail=True), token=secret)
    assert secret not in str(info.value) and info.value.__cause__ is None
    assert check_hub_access(api=FakeHubApi(), token=secret) == "tester"
    assert secret not in caplog.text


def test_bundle_and_model_card_contents(demo, tmp_path):
    out, _ = demo
    repos = ["org/unsmile-tiny-bert", "org/unsmile-tiny-roberta"]
    member_repos = {out / repo.removeprefix("org/unsmile-"): repo for repo in repos}
    staging = stage_bundle(out / "ensemble", tmp_path / "bundle", member_repos, "org/unsmile-ensemble")
    api = FakeHubApi()
    publish_bundle(staging, "org/unsmile-ensemble", private=True, api=api)
    assert api.calls == [
        ("create_repo", "org/unsmile-ensemble", True),
        ("upload_folder", "org/unsmile-ensemble"),
    ]
    assert {
        "ensemble.json",
        "README.md",
        "report/report.md",
        "report/test_metrics.json",
        "report/f1_per_label.png",
    } <= set(api.uploaded)
    spec = json.loads(api.uploaded["ensemble.json"])
    assert [m["hub_id"] for m in spec["members"]] == repos and len(spec["thresholds"]) == 10
    # The report's errors.tsv quotes test comments (a CC BY-NC-ND data set): it stays local.
    assert (out / "ensemble" / "report" / "errors.tsv").is_file() and "report/errors.tsv" not in api.uploaded
    card = api.uploaded["README.md"].decode("utf-8")
    assert "license: cc-by-nc-nd-4.0" in card and "CC BY-NC-ND 4.0" in card
    assert "shipped synthetic sample" in card and "its scores mean nothing" in card  # the demo says so
    assert 'Ensemble.from_pretrained("org/unsmile-ensemble")' in card and "| ensemble tuned |" in card
    test_metrics = json.loads((out / "ensemble" / "report" / "test_metrics.json").read_text(encoding="utf-8"))
    low, high = test_metrics["bootstrap_ci"]["systems"]["ensemble tuned"]["f1_macro"]
    assert f"[{low:.3f}, {high:.3f}] |" in card  # the interval beside the test figure
    assert "subjective" in card and "| 기타 혐오 |" in card
    # Space-ready: the front matter names the SDK and the app, the card links it, the app serves the
    # ensemble of its own repository with the recipe's package beside it and pinned requirements.
    front = card.split("---")[1]
    assert "sdk: gradio" in front and "app_file: app.py" in front and "sdk_version: " in front
    assert "[app.py](app.py)" in card and "## Try it in a browser" in card
    app = api.uploaded["app.py"].decode("utf-8")
    compile(app, "app.py", "exec")
    assert "Ensemble.from_pretrained(str(HERE))" in app and "build_app" in app
    requirements = api.uploaded["requirements.txt"].decode("utf-8").split()
    assert all("==" in line for line in requirements) and any(r.startswith("gradio==") for r in requirements)
    assert any(r.startswith("torch==") and "+" not in r for r in requirements)
    assert (
        api.uploaded["hf_trainer/serving/app.py"]
        == (REPO_ROOT / "hf_trainer" / "serving" / "app.py").read_bytes()
    )
    assert not [name for name in api.uploaded if "__pycache__" in name or name.endswith(".pyc")]


def test_a_member_is_published_without_checkpoints_or_pickles(demo):
    out, _ = demo
    api = FakeHubApi()
    publish_member(out / "tiny-bert", "org/unsmile-tiny-bert", private=True, api=api)
    assert api.calls == [
        ("create_repo", "org/unsmile-tiny-bert", True),
        ("upload_folder", "org/unsmile-tiny-bert"),
    ]
    assert {"model.safetensors", "config.json", "tokenizer.json", "metrics.json"} <= set(api.uploaded)
    assert not [name for name in api.uploaded if name.startswith("checkpoint-") or name.endswith(".bin")]
    assert any(p.name.startswith("checkpoint-") for p in (out / "tiny-bert").iterdir())  # they were there


def test_the_demo_trains_the_tiny_models_fewer_epochs_on_the_full_data(tmp_path):
    def epochs(*extra):
        stages = {
            s.name: s
            for s in StageGraph(parse_options(["--demo", "--output_dir", str(tmp_path), *extra])).stages()
        }
        command = stages["train_tiny-bert"].command
        assert "--epochs" not in stages["train_char-ngram"].command
        # Every transformer is checked before the first training (the char n-gram member has nothing to
        # check), except in the demo on a --data_dir, whose tiny local models train a minute each.
        preflights = [n for n in stages if n.startswith("preflight_")]
        assert preflights == (
            [] if extra else ["preflight_tiny-electra", "preflight_tiny-bert", "preflight_tiny-roberta"]
        )
        return command[command.index("--epochs") + 1]

    data = tmp_path / "unsmile"
    data.mkdir()
    for name, source in (("unsmile_train_v1.0.tsv", DEMO_TRAIN), ("unsmile_valid_v1.0.tsv", DEMO_TEST)):
        shutil.copyfile(source, data / name)
    assert epochs() == "5"  # the shipped sample: a few hundred rows
    assert epochs("--data_dir", str(data)) == "1"  # UnSmile: 14,500 rows, the demo stays under 10 minutes


def test_training_commands_for_presets_hub_ids_and_pass_through(tmp_path):
    pipeline = StageGraph(
        parse_options(
            [
                "--output_dir",
                str(tmp_path),
                "--models",
                "kcelectra",
                "org/my-bert",
                "--epochs",
                "3",
                "--push_to_hub",
                "--hub_org",
                "me",
            ]
        )
    )
    stages = {stage.name: stage for stage in pipeline.stages()}
    kc, hub = (
        stages[name].command + stages[name].run_only_args for name in ("train_kcelectra", "train_my-bert")
    )
    assert any(part.endswith("recipes/configs/kcelectra.yaml") for part in kc)
    assert hub[hub.index("--model_name_or_path") + 1] == "org/my-bert" and "--model" not in hub
    assert hub[hub.index("--output_dir") + 1] == str(tmp_path / "my-bert")
    assert (
        kc[kc.index("--epochs") + 1] == "3" and kc[kc.index("--hub_model_id") + 1] == "me/unsmile-kcelectra"
    )
    # Where a member is published is not what it computes: adding --push_to_hub retrains nothing.
    assert "--push_to_hub" not in stages["train_kcelectra"].command
    without_push = StageGraph(parse_options(["--output_dir", str(tmp_path), "--models", "kcelectra", "org/my-bert",
                                             "--epochs", "3"])).stages()  # fmt: skip
    assert [s.fingerprint() for s in without_push] == [s.fingerprint() for s in stages.values()][
        : len(without_push)
    ]
    from hf_trainer.training.arguments import parse_train_args

    script = next(i for i, part in enumerate(hub) if part.endswith("train.py"))
    model_args, _, args = parse_train_args(hub[script + 1 :])
    assert model_args.model_name_or_path == "org/my-bert" and args.push_to_hub and args.num_train_epochs == 3


def test_help_explains_the_options():
    result = run_all("--help")
    for option in ("--data_dir", "--output_dir", "--models", "--demo", "--push_to_hub", "--hub_org"):
        assert option in result.stdout
    assert "passed to every training run" in result.stdout


def test_training_runs_as_one_plain_process_and_keeps_the_fingerprint_of_earlier_runs(tmp_path, monkeypatch):
    from hf_trainer.pipeline import stages as stage_graph

    monkeypatch.setattr(stage_graph, "accelerate_config_given", lambda: False)  # no `accelerate config`
    stage = next(s for s in StageGraph(parse_options(["--demo", "--output_dir", str(tmp_path)])).stages()
                 if s.name == "train_tiny-bert")  # fmt: skip
    assert stage.command[1].endswith("train.py") and "accelerate.commands.launch" not in stage.command
    # Runs finished before launched it through `accelerate launch`: their stages stay finished.
    launched_before = stage_graph.Stage(stage.name, stage.fingerprinted_command, stage.inputs)
    assert stage.fingerprinted_command[1:4] == ["-m", "accelerate.commands.launch", "--num_processes"]
    assert stage.fingerprint() == launched_before.fingerprint() != stage_graph.Stage(stage.name, stage.command,
                                                                                     stage.inputs).fingerprint()  # fmt: skip


def test_stop_after_runs_the_stages_up_to_one_and_no_further(tmp_path, capsys):
    def names(*flags: str) -> list[str]:
        options = parse_options(
            ["--output_dir", str(tmp_path), "--models", "kcelectra", "char-ngram", *flags]
        )
        return [stage.name for stage in StageGraph(options).stages()]

    everything = names()
    assert names("--stop_after", "data") == ["data"]
    assert names("--stop_after", "preflight") == ["data", "preflight_kcelectra"]
    assert names("--stop_after", "preflight", "--skip_preflight") == ["data"]
    assert names("--stop_after", "train") == everything[: everything.index("train_char-ngram") + 1]
    assert names("--stop_after", "evaluate_test")[-2:] == ["thresholds", "evaluate_test"]
    assert names("--stop_after", "robustness") == everything[:-1] and everything[-1] == "functional_tests"
    with pytest.raises(SystemExit):
        parse_options(["--stop_after", "train", "--push_to_hub", "--hub_org", "me"])
    assert "run without --stop_after to publish" in capsys.readouterr().err


def test_the_cpu_profile_trains_char_ngrams_the_packaged_encoder_and_the_gate_with_their_configs(tmp_path):
    stages = {s.name: s for s in StageGraph(parse_options(["--cpu", "--output_dir", str(tmp_path)])).stages()}
    trains = [name for name in stages if name.startswith("train_")]
    assert trains == ["train_char-ngram", "train_e5-small", "train_char-ngram-blind"]
    assert "preflight_e5-small" in stages  # a pretrained model: checked before training
    ensemble = stages["ensemble"].command  # the member blind to group names is the mention gate
    assert ensemble[ensemble.index("--gate_member") + 1] == str(tmp_path / "char-ngram-blind")
    assert str(Path("recipes") / "configs" / "char-ngram-blind.yaml") in " ".join(
        stages["train_char-ngram-blind"].command
    )
    command = stages["train_e5-small"].command
    assert str(Path("recipes") / "configs" / "e5-small.yaml") in " ".join(command)
    assert "--epochs" not in command  # its YAML's epochs and learning rate, not the demo's
    with pytest.raises(SystemExit):
        parse_options(["--cpu", "--demo"])
