"""The design's three Hub models, as offline replicas of their repositories (tests/hub_replicas.py).

`run_all.sh --data_dir DIR --models kcelectra soongsilbert roberta --max_steps 3 --stop_after evaluate_test`
runs once against a replica cache with HF_HUB_OFFLINE=1, with default flags, preflight first; the tests
read its outputs.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import subprocess

import numpy as np
import pytest
from huggingface_hub import constants
from transformers import AutoTokenizer, BertTokenizerFast, pipeline

from hf_trainer import Ensemble
from hf_trainer.data.labels import UNSMILE_LABELS, UNSMILE_TRAIN_FILE, UNSMILE_VALID_FILE, LabelSchema
from hf_trainer.training import preflight
from hf_trainer.training.arguments import parse_train_args
from hf_trainer.training.modeling import load_model_and_tokenizer
from hf_trainer.training.trainer import MultiLabelTrainer
from hf_trainer.utils.errors import ModelLoadError, run_recipe
from tests.helpers import DEMO_TEST, DEMO_TRAIN, ENV, REPO_ROOT, load_recipe, tiny_train_args
from tests.hub_replicas import KCELECTRA, KLUE_ROBERTA, SOONGSILBERT, build_replica_cache

PRESETS = {"kcelectra": KCELECTRA, "soongsilbert": SOONGSILBERT, "roberta": KLUE_ROBERTA}
WEIGHTS_FILE = {
    "kcelectra": "pytorch_model.bin",
    "soongsilbert": "pytorch_model.bin",
    "roberta": "model.safetensors",
}
KOREAN = ["여자들은 다 똑같다", "오늘 날씨 좋네요 ㅋㅋ", "조선족들은 다 나가라", "늙으면 죽어야지"]


def demo_texts() -> list[str]:
    lines = DEMO_TRAIN.read_text(encoding="utf-8").split("\n")[1:]
    return [line.split("\t")[0] for line in lines if line]


@pytest.fixture(scope="session")
def replica_cache(tmp_path_factory):
    cache = tmp_path_factory.mktemp("hf_hub_cache")
    build_replica_cache(cache, demo_texts())
    return cache


@pytest.fixture
def hub_cache(replica_cache, monkeypatch):
    """In-process loads resolve Hub ids in the replica cache (huggingface_hub reads this per call)."""
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(replica_cache))
    return replica_cache


@pytest.fixture(scope="module")
def replica_run(replica_cache, tmp_path_factory):
    root = tmp_path_factory.mktemp("replica_run")
    data = root / "unsmile"
    data.mkdir()
    shutil.copy(DEMO_TRAIN, data / UNSMILE_TRAIN_FILE)  # the demo sample under UnSmile's file names
    shutil.copy(DEMO_TEST, data / UNSMILE_VALID_FILE)
    out = root / "outputs"
    env = ENV | {"HF_HUB_CACHE": str(replica_cache), "HF_HUB_OFFLINE": "1"}
    command = ["bash", str(REPO_ROOT / "run_all.sh"), "--data_dir", str(data), "--output_dir", str(out)]
    # The stages after the test evaluation (spelling games, functional tests) are tested with the demo.
    command += ["--models", *PRESETS, "--max_steps", "3", "--stop_after", "evaluate_test"]
    result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=900)
    if result.returncode != 0:
        raise AssertionError(result.stdout[-6000:] + result.stderr[-3000:])
    return out, result.stdout


def test_run_all_checks_every_model_before_the_first_training(replica_run):
    out, stdout = replica_run
    starts = [stdout.index(f"Stage {stage}: start") for stage in ("preflight_roberta", "train_kcelectra")]
    assert starts[0] < starts[1], "the third model's preflight must come before the first training"
    for preset in PRESETS:
        log = (out / "logs" / f"preflight_{preset}.log").read_text(encoding="utf-8")
        assert (
            f"Preflight {preset}: passed" in log and "[UNK] tokens" in log and "h at the 80-epoch cap" in log
        )
        assert (out / ".pipeline" / f"preflight_{preset}.done.json").is_file()
    summary = json.loads((out / "summary.json").read_text())
    assert set(summary["models"]) == set(PRESETS) and summary["test_evaluations"] == 1


@pytest.mark.parametrize("preset", PRESETS)
def test_design_preset_trains_with_default_flags_and_records_its_commit(replica_run, replica_cache, preset):
    out, _ = replica_run
    repo = PRESETS[preset]
    commit = (replica_cache / f"models--{repo.replace('/', '--')}" / "refs" / "main").read_text()
    state = json.loads((out / preset / "trainer_state.json").read_text())
    assert state["global_step"] == 3
    base = json.loads((out / preset / "run_config.json").read_text())["base_model"]
    assert base == {"source": repo, "revision": None, "file": WEIGHTS_FILE[preset], "commit": commit}
    assert json.loads((out / preset / "metrics.json").read_text())["base_model"] == base
    report = (out / "ensemble" / "report" / "report.md").read_text(encoding="utf-8")
    assert f"| {preset} | {repo} |  | {commit} | {WEIGHTS_FILE[preset]} |" in report
    log = (out / "logs" / f"train_{preset}.log").read_text(encoding="utf-8")
    assert f"Loaded {repo} at commit {commit}, weights from {WEIGHTS_FILE[preset]}" in log


@pytest.mark.parametrize("preset", PRESETS)
def test_saved_tokenizer_reads_korean_after_a_reload(replica_run, hub_cache, preset):
    out, _ = replica_run
    saved = AutoTokenizer.from_pretrained(out / preset)
    original = AutoTokenizer.from_pretrained(PRESETS[preset])
    texts = demo_texts()[:200] + KOREAN
    ids = saved(texts)["input_ids"]
    assert ids == original(texts)["input_ids"]
    tokens = sum(len(row) - 2 for row in ids)
    unknown = sum(row.count(saved.unk_token_id) for row in ids)
    assert unknown / tokens < 0.01, f"{unknown} of {tokens} tokens are {saved.unk_token}"


@pytest.mark.parametrize("preset", PRESETS)
def test_saved_member_loads_in_a_plain_transformers_pipeline(replica_run, preset):
    out, _ = replica_run
    classifier = pipeline(
        "text-classification", model=str(out / preset), top_k=None, function_to_apply="sigmoid"
    )
    (scores,) = classifier([KOREAN[0]])
    assert sorted(s["label"] for s in scores) == sorted(UNSMILE_LABELS)


def test_soongsilbert_head_is_reinitialised_with_a_line_naming_the_mismatch(replica_run, hub_cache):
    out, _ = replica_run
    log = (out / "logs" / "train_soongsilbert.log").read_text(encoding="utf-8")
    assert f"{SOONGSILBERT} is a RobertaForSequenceClassification with a 3-label head" in log
    assert "this run needs 10 labels: its classifier head is re-initialised" in log
    with pytest.raises(ValueError, match="3-label head.*--ignore_mismatched_sizes true"):
        load_model_and_tokenizer(schema=LabelSchema(), model="soongsilbert", ignore_mismatched_sizes=False)


def test_ensemble_of_the_three_loads_and_predicts(replica_run):
    out, _ = replica_run
    ensemble = Ensemble.from_pretrained(str(out / "ensemble"), device="cpu")
    assert [m["name"] for m in ensemble.spec.members] == list(PRESETS)
    results = ensemble.predict(KOREAN)
    assert len(results) == len(KOREAN) and all(set(r["scores"]) == set(UNSMILE_LABELS) for r in results)
    rows = [0, 7, 42]
    saved = np.load(out / "kcelectra" / "predictions" / "test.npz")["probs"]
    test_texts = [
        line.split("\t")[0] for line in DEMO_TEST.read_text(encoding="utf-8").split("\n")[1:] if line
    ]
    member = Ensemble.from_pretrained(str(out / "kcelectra"), device="cpu")
    assert np.allclose(member.predict_proba([test_texts[i] for i in rows]), saved[rows], atol=1e-5)


def test_preflight_stops_an_unk_flood_with_one_line_naming_model_and_fix(hub_cache, tmp_path, capsys):
    # The transformers 5 trap: BertTokenizerFast(vocab_file=...) ignores the file (5 tokens only).
    vocab = next(hub_cache.glob(f"models--{KCELECTRA.replace('/', '--')}/snapshots/*/vocab.txt"))
    BertTokenizerFast(vocab_file=str(vocab), do_lower_case=False).save_pretrained(tmp_path / "broken")
    train = load_recipe("train").main
    args = ["recipes/configs/kcelectra.yaml", "--train_file", str(DEMO_TRAIN), "--test_file", str(DEMO_TEST)]
    args += ["--output_dir", str(tmp_path / "out"), "--max_train_samples", "64", "--preflight_only"]
    assert run_recipe(train, [*args, "--tokenizer_name", str(tmp_path / "broken")]) == 2
    error = capsys.readouterr().err
    assert "kcelectra:" in error and "[UNK]" in error and "--tokenizer_name" in error
    assert not (tmp_path / "out").exists()  # the preflight leaves nothing behind
    result = train(args)
    assert result["unk_share"] < 0.01 and result["grad_norm"] > 0 and np.isfinite(result["loss"])
    assert result["seconds_per_epoch"] > 0 and not (tmp_path / "out").exists()


def test_a_pinned_revision_resolves_to_its_commit(hub_cache, tmp_path):
    commit = (hub_cache / f"models--{KCELECTRA.replace('/', '--')}" / "refs" / "v2022").read_text()
    recipe = tmp_path / "pinned.yaml"
    recipe.write_text(f"model_name_or_path: {KCELECTRA}\nrevision: v2022\n", encoding="utf-8")
    model_args, _, _ = parse_train_args([str(recipe), "--output_dir", str(tmp_path / "out")])
    assert model_args.revision == "v2022"
    _, _, weights = load_model_and_tokenizer(schema=LabelSchema(), train_texts=KOREAN, **{
        k: v for k, v in dataclasses.asdict(model_args).items() if k != "model"})  # fmt: skip
    assert weights.to_dict() == {
        "source": KCELECTRA,
        "revision": "v2022",
        "file": "pytorch_model.bin",
        "commit": commit,
    }
    with pytest.raises(ModelLoadError, match="no safetensors weights.*weights_only"):
        load_model_and_tokenizer(schema=LabelSchema(), model="kcelectra", use_safetensors=True)


def test_preflight_reports_a_full_disk_a_nan_loss_and_zero_gradients(tmp_path, monkeypatch, capsys):
    train = load_recipe("train").main
    args = tiny_train_args("tiny-bert", tmp_path / "out", 1, "--max_train_samples", "64", "--preflight_only")
    assert train(args)["grad_norm"] > 0  # a healthy model passes

    usage = shutil.disk_usage(tmp_path)
    monkeypatch.setattr(preflight.shutil, "disk_usage", lambda path: usage._replace(free=1000))
    monkeypatch.setattr(MultiLabelTrainer, "compute_loss", lambda self, model, inputs, **kw: (
        model(**{k: v for k, v in inputs.items() if k != "labels"}).logits.sum() * float("nan")))  # fmt: skip
    assert run_recipe(train, args) == 2
    error = capsys.readouterr().err
    assert "tiny-bert: the run needs about" in error and "GB free" in error and "--save_total_limit" in error
    assert "tiny-bert: the loss of a real batch is nan" in error and "--precision no" in error

    monkeypatch.undo()
    monkeypatch.setattr(MultiLabelTrainer, "compute_loss", lambda self, model, inputs, **kw: (
        model(**{k: v for k, v in inputs.items() if k != "labels"}).logits.sum() * 0.0))  # fmt: skip
    assert run_recipe(train, args) == 2
    assert "tiny-bert: the gradients of a real batch are zero" in capsys.readouterr().err
