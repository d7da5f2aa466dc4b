"""Members behind one interface: a folder says what it holds (member.json), folders from before the
file still load, a Hub-only member loads by the kind ensemble.json recorded, a folder holds one
member, and what is published says truthfully what each member is."""

from __future__ import annotations

import json
import re
import shutil

import numpy as np
import pytest

from hf_trainer import Ensemble
from hf_trainer.data.canonical import STEPS
from hf_trainer.hub.publish import publish_member, stage_bundle
from hf_trainer.members import MEMBER_FILE, folder_info, folder_kind
from hf_trainer.members.char_ngram import CharNgramMember
from hf_trainer.members.transformer import TransformerMember
from hf_trainer.utils.errors import InvalidArgument, InvalidInput
from tests.helpers import CHAR_NGRAM_DATA, DEMO_TEST, FakeHubApi, load_recipe

TEXTS = [line.split("\t")[0] for line in DEMO_TEST.read_text(encoding="utf-8").split("\n")[1:151]]


def saved_test_probs(folder, rows):
    return np.load(folder / "predictions" / "test.npz")["probs"][rows]


def test_every_member_folder_declares_its_kind(mixed, pipeline_dir):
    root, _ = mixed
    for folder, kind, model in ((pipeline_dir / "tiny-bert", "transformer", "tiny-bert"),
                                (root / "char-ngram", "char-ngram", "char-ngram")):  # fmt: skip
        declared = json.loads((folder / MEMBER_FILE).read_text(encoding="utf-8"))
        assert declared["kind"] == kind and declared["model"] == model and declared["format_version"] == 1
        assert declared["labels"][:2] == ["여성/가족", "남성"] and len(declared["labels"]) == 10
    ensemble = Ensemble.from_pretrained(str(root / "ensemble"), device="cpu")
    assert [type(m) for m in ensemble.members] == [TransformerMember, TransformerMember, CharNgramMember]


def test_folders_from_before_member_json_load_by_what_they_hold(mixed, pipeline_dir, tmp_path):
    root, _ = mixed
    old = {"tiny-bert": pipeline_dir / "tiny-bert", "char-ngram": root / "char-ngram"}
    for name, folder in old.items():
        shutil.copytree(folder, tmp_path / name, ignore=shutil.ignore_patterns("checkpoint-*"))
        (tmp_path / name / MEMBER_FILE).unlink()  # the old layout
    assert [folder_kind(tmp_path / n) for n in old] == ["transformer", "char-ngram"]
    assert folder_info(tmp_path / "tiny-bert").model == "tiny-bert"  # read from its run_config.json
    load_recipe("ensemble").main(["--members", *(str(tmp_path / n) for n in old), "--output_dir",
                                  str(tmp_path / "ensemble")])  # fmt: skip
    spec_file = tmp_path / "ensemble" / "ensemble.json"
    spec = json.loads(spec_file.read_text(encoding="utf-8"))
    assert [m["kind"] for m in spec["members"]] == ["transformer", "char-ngram"]
    for member in spec["members"]:  # an ensemble.json from before the kind was recorded
        del member["kind"]
    spec_file.write_text(json.dumps(spec, ensure_ascii=False), encoding="utf-8")
    ensemble = Ensemble.from_pretrained(str(tmp_path / "ensemble"), device="cpu")
    rows = [0, 3, 99]
    for member, folder in zip(ensemble.members, old.values(), strict=True):
        assert np.allclose(member.predict_proba([TEXTS[i] for i in rows], batch_size=2),
                           saved_test_probs(folder, rows), atol=1e-5)  # fmt: skip


def test_a_char_ngram_member_known_only_through_ensemble_json_loads_from_the_hub(
    mixed, tmp_path, monkeypatch
):
    import huggingface_hub

    root, _ = mixed
    hub_cache = tmp_path / "hub_snapshot"  # what snapshot_download would leave in the cache
    shutil.copytree(root / "char-ngram", hub_cache)
    fetched = []

    def snapshot_download(repo_id, allow_patterns=None, **kwargs):
        fetched.append((repo_id, sorted(allow_patterns)))
        return str(hub_cache)

    monkeypatch.setattr(huggingface_hub, "snapshot_download", snapshot_download)
    spec = json.loads((root / "ensemble" / "ensemble.json").read_text(encoding="utf-8"))
    for member in spec["members"]:
        if member["kind"] == "char-ngram":  # on the Hub only: no local folder at its path
            member["path"], member["hub_id"] = None, "org/unsmile-char-ngram"
    hub_case = root / "ensemble-hub-case"  # beside the ensemble: the transformers' paths still resolve
    hub_case.mkdir(exist_ok=True)
    (hub_case / "ensemble.json").write_text(json.dumps(spec, ensure_ascii=False), encoding="utf-8")
    members = Ensemble.from_pretrained(str(hub_case), device="cpu").members
    assert [type(m) for m in members] == [TransformerMember, TransformerMember, CharNgramMember]
    assert fetched and fetched[0][0] == "org/unsmile-char-ngram" and "char_ngram.safetensors" in fetched[0][1]
    assert np.allclose(members[2].predict_proba(TEXTS[:3]), saved_test_probs(root / "char-ngram", [0, 1, 2]),
                       atol=1e-6)  # fmt: skip


def test_a_folder_holds_one_member_training_another_into_it_is_refused(mixed, pipeline_dir, tmp_path, capsys):
    root, _ = mixed
    transformer = tmp_path / "tiny-bert"
    shutil.copytree(pipeline_dir / "tiny-bert", transformer, ignore=shutil.ignore_patterns("checkpoint-*"))
    train = load_recipe("train").main
    char_ngram = ["--model", "char-ngram", *CHAR_NGRAM_DATA]
    with pytest.raises(
        InvalidArgument, match=re.escape(f"{transformer} holds a transformer member trained from tiny-bert")
    ):
        train([*char_ngram, "--output_dir", str(transformer)])
    with pytest.raises(
        InvalidArgument, match="trained from tiny-bert, not this transformer member \\(tiny-roberta\\)"
    ):
        train(["--model", "tiny-roberta", "--output_dir", str(transformer)])  # another preset
    assert (transformer / "model.safetensors").is_file()  # nothing was touched
    metrics = train([*char_ngram, "--output_dir", str(transformer), "--overwrite_output_dir"])
    assert "val" in metrics and "best_epoch" not in metrics  # no fake epoch fields
    assert folder_kind(transformer) == "char-ngram" and not (transformer / "model.safetensors").exists()
    moved = [p for p in tmp_path.iterdir() if p.name.startswith("tiny-bert.old-")]
    assert len(moved) == 1 and (moved[0] / "model.safetensors").is_file()  # moved aside, not deleted
    assert (
        f"{transformer} held a transformer member trained from tiny-bert: moved aside"
        in capsys.readouterr().out
    )


def test_a_stale_file_of_another_kind_is_never_picked_up(pipeline_dir, mixed, tmp_path):
    root, _ = mixed
    folder = tmp_path / "tiny-bert"
    shutil.copytree(pipeline_dir / "tiny-bert", folder, ignore=shutil.ignore_patterns("checkpoint-*"))
    shutil.copy(root / "char-ngram" / "char_ngram.json", folder)  # left behind by an earlier run
    assert folder_kind(folder) == "transformer"  # member.json decides, not a probe for files
    assert isinstance(Ensemble.from_pretrained(str(folder), device="cpu").members[0], TransformerMember)
    spec = {"labels": json.loads((folder / MEMBER_FILE).read_text(encoding="utf-8"))["labels"], "objective": "none",
            "objective_value": 0.0, "members": [{"name": "m", "kind": "char-ngram", "path": str(folder), "weight": 1.0}]}  # fmt: skip
    (tmp_path / "ensemble").mkdir()
    (tmp_path / "ensemble" / "ensemble.json").write_text(
        json.dumps(spec, ensure_ascii=False), encoding="utf-8"
    )
    with pytest.raises(
        InvalidInput, match="records a char-ngram member, but .* now holds a transformer member"
    ):
        Ensemble.from_pretrained(str(tmp_path / "ensemble"), device="cpu")  # retrained since the ensemble
    (folder / MEMBER_FILE).write_text('{"kind": "pickle", "format_version": 1}', encoding="utf-8")
    with pytest.raises(InvalidInput, match="unknown member kind 'pickle'"):
        folder_kind(folder)  # a closed registry: a kind named in a file is never imported


def test_model_card_and_uploads_say_what_each_member_is(mixed, pipeline_dir, tmp_path):
    root, _ = mixed
    members = {
        root / "char-ngram": "org/unsmile-char-ngram",
        pipeline_dir / "tiny-roberta": "org/unsmile-tiny-roberta",
        pipeline_dir / "tiny-bert": "org/unsmile-tiny-bert",
    }  # fmt: skip  (not ensemble.json's order)
    staging = stage_bundle(root / "ensemble", tmp_path / "bundle", members, "org/unsmile-ensemble")
    staged = json.loads((staging / "ensemble.json").read_text(encoding="utf-8"))
    assert [(m["name"], m["hub_id"]) for m in staged["members"]] == [
        ("tiny-bert", "org/unsmile-tiny-bert"),
        ("tiny-roberta", "org/unsmile-tiny-roberta"),
        ("char-ngram", "org/unsmile-char-ngram"),
    ]  # fmt: skip  (matched by folder, never by position)
    card = (staging / "README.md").read_text(encoding="utf-8")
    lines = {line.split(":")[0]: line for line in card.splitlines() if line.startswith("- org/unsmile-")}
    assert "plain transformers" not in lines["- org/unsmile-char-ngram"]
    assert "not through transformers" in lines["- org/unsmile-char-ngram"]
    assert 'pipeline("text-classification", model="org/unsmile-tiny-bert"' in lines["- org/unsmile-tiny-bert"]
    assert "2 transformer encoders fine-tuned" in card and "1 char n-gram model" in card
    assert "a pipeline skips the member's canonical form" in lines["- org/unsmile-tiny-bert"]
    # The spelling-games line says what the members' member.json record, not a fixed text.
    forms = {folder.name: folder_info(folder).canonical_form for folder in members}
    assert set(forms.values()) == {STEPS}
    assert (
        "(full-width forms, invisible characters, Latin look-alikes, letters typed one by one and long "
        in card
    )
    assert [m["kind"] for m in staged["members"]] == ["transformer", "transformer", "char-ngram"]
    assert "was scored 1 time;" not in card and "was scored 1 time." in card
    with pytest.raises(InvalidArgument, match="not the members of"):
        stage_bundle(
            root / "ensemble", tmp_path / "b2", dict(list(members.items())[:2]), "org/unsmile-ensemble"
        )
    for folder, repo in members.items():  # no gold labels and no comment text leave the machine
        api = FakeHubApi()
        publish_member(folder, repo, api=api)
        assert MEMBER_FILE in api.uploaded and not [n for n in api.uploaded if n.startswith("predictions/")]
        assert {"model.safetensors", "char_ngram.safetensors"} & set(api.uploaded)  # the weights go
        assert not [n for n in api.uploaded if n.startswith("checkpoint-") or n.endswith((".bin", ".pkl"))]
        assert (folder / "predictions" / "test.npz").is_file()  # they were there


def test_train_py_push_to_hub_publishes_the_trained_member(tmp_path, monkeypatch):
    import huggingface_hub

    from tests.helpers import CHAR_NGRAM_DATA

    api = FakeHubApi()
    monkeypatch.setattr(huggingface_hub, "HfApi", lambda token=None: api)
    folder = tmp_path / "char-ngram"
    args = ["--model", "char-ngram", *CHAR_NGRAM_DATA, "--output_dir", str(folder)]
    load_recipe("train").main([*args, "--push_to_hub", "--hub_model_id", "org/unsmile-char-ngram"])
    assert api.calls == [
        ("create_repo", "org/unsmile-char-ngram", False),
        ("upload_folder", "org/unsmile-char-ngram"),
    ]
    assert MEMBER_FILE in api.uploaded and "char_ngram.safetensors" in api.uploaded
    assert (folder / "predictions" / "test.npz").is_file() and not [n for n in api.uploaded if ".npz" in n]


def test_train_py_pushes_the_final_member_without_pickles_or_data(pipeline_dir, tmp_path, monkeypatch):
    """`train.py --push_to_hub` uploads the member's own files once, after training (hub_strategy `end`
    by default): not transformers' push of the whole folder, training_args.bin and prepared data."""
    import huggingface_hub

    from hf_trainer.hub.publish import publish_trained_member
    from hf_trainer.training.arguments import RecipeTrainingArguments

    folder = tmp_path / "tiny-bert"
    shutil.copytree(pipeline_dir / "tiny-bert", folder)
    (folder / "training_args.bin").write_bytes(b"a pickle")
    (folder / "prepared_data").mkdir()
    (folder / "prepared_data" / "train.tsv").write_text("a comment\t1\n", encoding="utf-8")
    api = FakeHubApi()
    monkeypatch.setattr(huggingface_hub, "HfApi", lambda token=None: api)
    args = RecipeTrainingArguments(
        output_dir=str(folder), hub_model_id="org/unsmile-tiny-bert", hub_private_repo=True, report_to="none"
    )
    assert args.hub_strategy == "end"  # no transformers push during training unless asked for
    assert publish_trained_member(folder, args, {"val": {"f1_macro": 0.5}}) == "org/unsmile-tiny-bert"
    assert api.calls == [
        ("create_repo", "org/unsmile-tiny-bert", True),
        ("upload_folder", "org/unsmile-tiny-bert"),
    ]
    assert "model.safetensors" in api.uploaded and MEMBER_FILE in api.uploaded
    assert not [name for name in api.uploaded if name.endswith(".bin") or name.startswith("prepared_data")]


def test_the_cards_spelling_games_line_follows_each_members_canonical_form():
    from hf_trainer.hub.card import spelling_games_line

    assert "trained and are served without the canonical form" in spelling_games_line({"a": (), "b": ()})
    line = spelling_games_line({"a": ("width", "compose"), "b": ()})
    assert "(a: full-width forms and letters typed one by one undone; b: nothing undone)" in line
