from __future__ import annotations

import subprocess
import sys

import pytest
import torch
from transformers import AutoModelForSequenceClassification, AutoTokenizer

from hf_trainer.data.labels import UNSMILE_LABELS, LabelSchema
from hf_trainer.training.modeling import build_wordpiece_tokenizer, load_model_and_tokenizer
from hf_trainer.training.presets import PRESETS

TEXTS = [
    "여자들은 다 똑같다 진짜",
    "오늘 날씨 정말 좋네요!",
    "남자들 군대 얘기 그만",
    "이 영화 정말 재미있다",
] * 5


def test_korean_survives_save_and_reload(tmp_path):
    tokenizer = build_wordpiece_tokenizer(TEXTS, vocab_size=500)
    before = tokenizer("오늘 날씨 정말 좋네요")["input_ids"]
    tokenizer.save_pretrained(tmp_path)
    reloaded = AutoTokenizer.from_pretrained(tmp_path)
    assert reloaded("오늘 날씨 정말 좋네요")["input_ids"] == before
    assert tokenizer.unk_token_id not in before
    assert reloaded.convert_ids_to_tokens(before)[1:3] == ["오늘", "날씨"]  # composed syllables, not jamo


def test_tokenizer_is_the_same_in_another_process():
    code = (
        "from hf_trainer.training.modeling import build_wordpiece_tokenizer as b;"
        f"print(sorted(b({TEXTS!r}, vocab_size=60).get_vocab().items()))"
    )
    runs = {
        subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
        for _ in range(2)
    }
    assert len(runs) == 1
    assert str(sorted(build_wordpiece_tokenizer(TEXTS, vocab_size=60).get_vocab().items())) + "\n" in runs


@pytest.mark.parametrize("preset", ["tiny-electra", "tiny-bert", "tiny-roberta"])
def test_tiny_presets_are_multilabel_classifiers_with_korean_labels(preset, tmp_path):
    model, tokenizer, _ = load_model_and_tokenizer(schema=LabelSchema(), model=preset, train_texts=TEXTS)
    config = model.config
    assert config.problem_type == "multi_label_classification" and config.classifier_dropout == 0.3
    assert [config.id2label[i] for i in range(10)] == list(UNSMILE_LABELS)
    assert config._attn_implementation == "sdpa"
    batch = tokenizer(["가 " * 400], truncation=True, max_length=128, return_tensors="pt")
    assert batch["input_ids"].shape[1] == 128  # the longest input fits the position table
    assert model(**batch).logits.shape == (1, 10)
    model.save_pretrained(tmp_path)
    assert (tmp_path / "model.safetensors").is_file() and not list(tmp_path.glob("*.bin"))
    reloaded = AutoModelForSequenceClassification.from_pretrained(tmp_path, use_safetensors=True)
    original = model.state_dict()
    assert all(torch.equal(value, original[key]) for key, value in reloaded.state_dict().items())


def test_hub_presets_and_offline_message():
    assert PRESETS["kcelectra"].hub_id == "beomi/KcELECTRA-base-v2022"
    assert (
        PRESETS["soongsilbert"].ignore_mismatched_sizes and PRESETS["roberta"].hub_id == "klue/roberta-base"
    )
    with pytest.raises(OSError, match="tiny local preset"):
        load_model_and_tokenizer(schema=LabelSchema(), model="kcelectra")
    with pytest.raises(ValueError, match="unknown model preset"):
        load_model_and_tokenizer(schema=LabelSchema(), model="bert-huge")
