"""Spelling games (hf_trainer/data/perturb.py) on known words, and the canonical form that undoes the safe
ones (hf_trainer/data/canonical.py)."""

from __future__ import annotations

import random

import pytest

from hf_trainer.data.canonical import STEPS, canonical, canonical_all, check_steps, compose
from hf_trainer.data.perturb import (
    FAMILIES,
    MIXED,
    initial_consonants,
    inner_spaces,
    invisible,
    is_syllable,
    jamo_split,
    join_syllable,
    latin_lookalikes,
    lookalike_syllables,
    perturb,
    perturb_all,
    split_syllable,
    stretch,
    vowel_swap,
)
from hf_trainer.data.perturb import fullwidth as to_fullwidth
from hf_trainer.utils.errors import InvalidArgument, InvalidInput

SENTENCE = "시발 놈아 개새끼 멍멍이 귀엽다 fuck 1"


def rng() -> random.Random:
    return random.Random(0)


def test_syllables_split_and_join_by_unicode_arithmetic():
    assert split_syllable("발") == ("ㅂ", "ㅏ", "ㄹ") and split_syllable("시") == ("ㅅ", "ㅣ", "")
    assert join_syllable("ㅂ", "ㅏ", "ㄹ") == "발" and join_syllable("ㄲ", "ㅣ") == "끼"
    every = [chr(c) for c in range(0xAC00, 0xD7A4)]
    assert all(join_syllable(*split_syllable(s)) == s for s in every)


def test_each_family_on_known_words_at_rate_one():
    assert jamo_split("시발", 1.0, rng()) == "ㅅㅣㅂㅏㄹ"
    assert initial_consonants("시발 놈아 아", 1.0, rng()) == "ㅅㅂ ㄴㅇ 아"  # one syllable: no abbreviation
    spaced = inner_spaces("시발", 1.0, rng())
    assert len(spaced) == 3 and spaced[0] == "시" and spaced[2] == "발" and spaced[1] in " .*1_"
    drawn = stretch("시", 1.0, rng())
    assert drawn[0] == "시" and set(drawn[1:]) == {"이"} and 2 <= len(drawn) <= 4
    assert stretch("놈", 1.0, random.Random(1)).endswith("옴")  # the final moves to the last syllable
    assert lookalike_syllables("멍멍이 명작 귀엽다", 1.0, rng()) == "댕댕이 띵작 커엽다"
    assert latin_lookalikes("개새끼", 1.0, rng()) == "7H^H77l"
    assert latin_lookalikes("뭐", 1.0, rng()) == "뭐"  # ㅁ and ㅝ have no look-alike: left alone
    assert vowel_swap("개새끼 예쁘다", 1.0, rng()) == "게세끼 얘쁘다"
    hidden = invisible("시발", 1.0, rng())
    assert (
        len(hidden) == 3
        and hidden[0] == "시"
        and hidden[2] == "발"
        and hidden[1] in "\u200b\u200c\u200d\u2060\ufeff"
    )
    assert to_fullwidth("fuck 1", 1.0, rng()) == "ｆｕｃｋ\u3000１"


def test_rates_seeds_and_labels_of_the_families():
    texts = ["시발 놈아 개새끼 멍멍이 귀엽다 진짜로 오늘 날씨가 좋네요"] * 200
    for family in FAMILIES:
        assert perturb(SENTENCE, family, 0.0, 1) == SENTENCE, family  # rate 0: the text as written
        assert perturb(SENTENCE, family, 0.5, 7) == perturb(SENTENCE, family, 0.5, 7)  # seeded
        assert len({perturb(SENTENCE, family, 0.5, seed) for seed in range(10)}) > 1, family  # by the seed
        assert perturb(SENTENCE, family, 1.0, 7) != SENTENCE, family
    # The rate is the share of the syllables split, about 0.3 over 200 seeds (0.1 and 1 for contrast).
    syllables = sum(map(is_syllable, texts[0]))
    for rate in (0.1, 0.3, 1.0):
        kept = sum(sum(map(is_syllable, perturb(t, "jamo_split", rate, i))) for i, t in enumerate(texts))
        assert 1 - kept / (syllables * len(texts)) == pytest.approx(rate, abs=0.03), rate
    once = perturb_all(texts[:3], "jamo_split", 0.3, 5)
    assert once[0] == once[1] == once[2] != texts[0]  # seeded per text, not per position in the list
    assert perturb(SENTENCE, MIXED, 0.3, 3) != SENTENCE
    with pytest.raises(InvalidArgument, match="unknown perturbation family 'leet'"):
        perturb(SENTENCE, "leet", 0.3, 0)
    with pytest.raises(InvalidArgument, match=r"rate must be in \[0, 1\]"):
        perturb(SENTENCE, "jamo_split", 1.5, 0)


# Not latin_lookalikes: a lone drawn syllable that starts a word (7H새끼) stays, as a number and a unit
# would (2H남음); test_latin_look_alikes_are_read_back_only_where_nothing_else_is_meant covers the rest.
@pytest.mark.parametrize("family", ["jamo_split", "invisible", "fullwidth"])
def test_the_canonical_form_undoes_the_safe_games(family):
    # Letters typed next to syllables (좋아ㅋㅋㅋ, 시ㅎㅎ), laughing then crying (ㅋㅋㅠㅠ) included.
    text = SENTENCE + " ㅋㅋㅋ 오이 ㅇㅇ 감사합니당 좋아ㅋㅋㅋ 시ㅎㅎ ㅋㅋㅠㅠ"
    assert canonical(text) == text
    for seed in range(20):
        for rate in (0.3, 1.0):
            assert canonical(perturb(text, family, rate, seed)) == text, (family, seed, rate)


def test_the_canonical_form_of_text_without_games():
    # Ordinary comments come back as they were: typed consonants, emoji, Latin words, digits.
    for text in (
        "ㅋㅋㅋ 진짜 웃기네 😂",
        "ㅅㅂ 뭐하냐",
        "BTS 최고 2024",
        "아이 오이 우유",
        "ㅇㅇ 맞음",
        "ㅋㅋㅠㅠ",
        "ㅎㅎㅜㅜ",
        "ㅜㅇㅜ",
        "",
    ):
        assert canonical(text) == text
    # Capitals alone that start a word are an acronym, not a drawing (inside a word they are: 귀엽CF).
    assert canonical("LH공사 CF광고 LH가 귀엽CF") == "LH공사 CF광고 LH가 귀엽다"
    assert compose("ㅈㅗㅎㅇㅏㅋㅋㅋ ㅅㅣㅎㅎ ㅂㅏㄱㄱㅏ") == "좋아ㅋㅋㅋ 시ㅎㅎ 박가"
    # What it cannot tell apart (README, Spelling games): one letter after a syllable typed as letters
    # reads as its final (ㅇㅏㅋ -> 앜, though 아ㅋ was meant); 7 draws both ㄱ and ㅋ and 77 draws ㄲ
    # (각가 drawn 7F77F reads 가까).
    assert compose("ㅇㅏㅋ") == "앜" and canonical("7F77F") == "가까"
    assert canonical("ㅋㅋㅋㅋㅋㅋㅋ!!!!!!") == "ㅋㅋㅋ!!!"
    assert canonical("시이이이이발") == "시이발" and canonical("노오옴") == "노오옴"
    assert compose("ㅅㅣ발 ㄱㅐ새끼 ㅂㅏㄹㅇㅏ") == "시발 개새끼 발아"  # ㄹ before ㅇㅏ: a final, then 아
    assert compose("ㅂㅏㄹㅏ") == "바라"  # ㄹ before a vowel starts the next syllable
    assert canonical("ｆｕｃｋ\u3000ﾡ") == "fuck ㄱ" and canonical("a\u200bb\u202ec\ufeff") == "abc"
    assert canonical_all(["ㅅㅣ발", "ok"], ()) == ["ㅅㅣ발", "ok"]  # no steps: the text as it is
    assert canonical("ㅅㅣ발\u200b", ["invisible"]) == "ㅅㅣ발"
    assert check_steps(["repeats", "width"]) == ("width", "repeats")
    assert STEPS == ("width", "invisible", "latin", "compose", "repeats")
    with pytest.raises(InvalidInput, match="unknown canonical-form step 'nfkc'"):
        canonical("x", ["nfkc"])


def test_latin_look_alikes_are_read_back_only_where_nothing_else_is_meant():
    for drawn, meant in (("7H^H77l", "개새끼"), ("개^H끼", "개새끼"), ("^^-레7l야", "쓰레기야"), ("ㅅㅣ^H77l", "시새끼"),
                         ("7H^H77l 같은", "개새끼 같은"), ("ㅋㅋ7H", "ㅋㅋ개"), ("귀엽CF", "귀엽다"), ("^H끼야", "새끼야")):  # fmt: skip
        assert canonical(drawn) == meant, drawn
    # Latin words and acronyms, numbers, smileys and dashes stay as written.
    for text in ("BTS 최고", "LoL", "BT", "T-T", "-_-", "o-o", "^^", "^-^ 고마워", "ㅋㅋ^-^", "E-스포츠", "B-급",
                 "7시", "7-8시", "2F4", "1.5배", "CCTV 설치", "HTML 공부"):  # fmt: skip
        assert canonical(text) == text, text


# Ordinary text with Latin letters and digits: floors, units, sizes, model numbers, times, scores,
# K-pop names, URLs, e-mail addresses, hashtags and code. The `latin` step must leave every one alone.
ORDINARY_LATIN = (
    "7F 매장", "2F 회의실로 오세요", "7F에서 만나", "B1 주차장", "지하 B2층", "3F 화장실", "10F 라운지",
    "2TB 외장하드", "1TB SSD", "2TB짜리 샀어", "500GB 남음", "16GB 램", "4K TV", "5G 요금제", "LTE 요금제",
    "2L 생수", "2l 생수", "500ml 우유", "3kg 감량", "10km 뛰었다",
    "2H 남음", "7H 남았어", "7시 30분", "PM 7:30", "AM 9시", "2H 30M 걸림", "배터리 2H남음", "2H만에 끝남",
    "2H동안 회의", "2H째 대기중", "2H후 출발", "오후 2H쯤", "오늘 2H반", "2l짜리 생수", "7T짜리 트럭",
    "https://x.kr/2F7LH\t참고",
    "갤럭시 S24", "아이폰 15 Pro", "RTX 4090", "LG 그램 16Z90", "M2 맥북", "C타입 케이블", "B2B 영업", "T1 우승",
    "2:1 승리", "3-2로 이겼다", "7-11 편의점", "F1 레이싱",
    "BTS 신곡", "EXO-L", "2NE1 컴백", "(G)I-DLE", "NCT 127", "TWICE 최고", "aespa 카리나", "2PM 콘서트",
    "https://t.co/2F7LH 참고", "www.naver.com", "kim.lee@example.com 으로 보내줘", "#2TB #세일", "#7F맛집",
    "x = 7 - 2", "ls -l", "print(H2O)", "C++ 공부", "rm -rf /tmp", "E-mail 주세요", "A/S 센터", "CU 편의점",
)  # fmt: skip


def test_ordinary_latin_letters_and_digits_pass_through_unchanged():
    assert len(ORDINARY_LATIN) >= 50
    changed = {text: canonical(text) for text in ORDINARY_LATIN if canonical(text) != text}
    assert changed == {}


def test_members_serve_the_canonical_form_they_were_trained_with(mixed, tmp_path):
    import json
    import shutil

    import numpy as np

    from hf_trainer import Ensemble
    from hf_trainer.members.char_ngram import CharNgramMember

    root, _ = mixed
    recorded = json.loads((root / "char-ngram" / "member.json").read_text(encoding="utf-8"))
    assert recorded["canonical_form"] == list(STEPS)
    ensemble = Ensemble.from_pretrained(str(root / "ensemble"), device="cpu")
    assert [m.canonical_form for m in ensemble.members] == [STEPS] * 3
    written = ["여자들은 다 똑같다 ㅋㅋ", "오늘 날씨 좋네요", "시발 진짜 짜증나네"]
    played = [
        perturb(written[0], "jamo_split", 1.0, 0),
        perturb(written[1], "invisible", 1.0, 0),
        perturb(perturb(written[2], "fullwidth", 1.0, 0), "jamo_split", 0.5, 1),
    ]
    assert all(p != w for p, w in zip(played, written, strict=True))
    # Served: the perturbed comment scores exactly as its canonical form, which is the comment as written.
    assert ensemble.predict(played) == ensemble.predict(written)
    # A member whose member.json records no canonical form was trained without one: served without.
    plain_dir = tmp_path / "char-ngram"
    shutil.copytree(root / "char-ngram", plain_dir)
    info = json.loads((plain_dir / "member.json").read_text(encoding="utf-8"))
    del info["canonical_form"]
    (plain_dir / "member.json").write_text(json.dumps(info), encoding="utf-8")
    plain, trained = CharNgramMember.load(plain_dir), CharNgramMember.load(root / "char-ngram")
    assert plain.canonical_form == () and trained.canonical_form == STEPS
    assert np.array_equal(plain.predict_proba(written), trained.predict_proba(written))
    assert not np.allclose(plain.predict_proba(played), trained.predict_proba(played))


def test_the_robustness_figures_extend_the_one_test_evaluation(mixed, tmp_path):
    import json

    from hf_trainer.evaluation.robustness import NotEvaluated, run_robustness
    from hf_trainer.evaluation.test_once import read_history
    from tests.helpers import load_recipe

    root, report = mixed
    folder = root / "ensemble"
    before = read_history(folder)["count"]
    result = run_robustness(folder, rate=0.3)
    assert read_history(folder)["count"] == before  # not another test evaluation
    systems = result["systems"]
    assert list(systems) == ["ensemble", "tiny-bert", "tiny-roberta", "char-ngram"]
    # As written: the figures of the counted evaluation, from the members served live.
    assert systems["ensemble"]["as written"] == pytest.approx(
        report["systems"]["ensemble tuned"]["f1_macro"], abs=2e-3
    )
    for family in ("jamo_split", "invisible"):  # undone by the canonical form the members serve
        assert result["families"][family]["comments_changed"] > 0.5
        for name in systems:
            assert systems[name][family]["difference"] == 0.0 and systems[name][family]["ci"] == [0.0, 0.0]
    # Initial consonants are not undone: some scores move.
    assert any(systems[name]["initial_consonants"]["difference"] != 0.0 for name in systems)
    assert json.loads((folder / "report" / "robustness.json").read_text(encoding="utf-8"))["rate"] == 0.3
    run_robustness(folder, rate=0.3)  # again: the report keeps one section
    text = (folder / "report" / "report.md").read_text(encoding="utf-8")
    assert text.count("## Spelling games (robustness)") == 1 and text.index("## Spelling games") < text.index(
        "## Inputs"
    )
    row = next(line for line in text.splitlines() if line.startswith("| jamo_split |"))
    assert row.count("(+0.0000 [+0.000, +0.000])") == len(systems)
    # After a change to what the evaluation read, the figures would belong to no counted evaluation.
    import shutil

    copy = tmp_path / "changed"
    shutil.copytree(root, copy)
    spec = json.loads((copy / "ensemble" / "ensemble.json").read_text(encoding="utf-8"))
    for member in spec["members"]:  # the members where they are (one byte of ensemble.json changes)
        member["path"] = str((folder / member["path"]).resolve())
    (copy / "ensemble" / "ensemble.json").write_text(json.dumps(spec), encoding="utf-8")
    with pytest.raises(NotEvaluated, match="ensemble.json changed since the last test evaluation"):
        run_robustness(copy / "ensemble")
    # A folder whose test split was not scored has no evaluation to extend.
    members = [str(root / m) for m in ("char-ngram",)]
    load_recipe("ensemble").main(["--members", *members, "--output_dir", str(tmp_path / "ens")])
    load_recipe("thresholds").main(["--ensemble_dir", str(tmp_path / "ens")])
    with pytest.raises(NotEvaluated, match="has not been scored yet; run recipes/evaluate_test.py first"):
        run_robustness(tmp_path / "ens")
