"""Builds cases.tsv, the Korean functional test suite, from the templates and word lists below.

Every sentence here was written for this project (none comes from UnSmile or another dataset).
Run `python -m hf_trainer.evaluation.functional_suite.build_cases` to rewrite cases.tsv; a test checks that the
committed file is what this script writes. The gold rules are in README.md next to this file.
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path

from hf_trainer.data.labels import UNSMILE_ABUSE, UNSMILE_CLEAN, UNSMILE_HATE_LABELS
from hf_trainer.data.perturb import is_syllable, split_syllable
from hf_trainer.evaluation.functional_suite.spell_items import SPELL_ITEMS

HATE_LABELS, ABUSE, CLEAN = UNSMILE_HATE_LABELS, UNSMILE_ABUSE, UNSMILE_CLEAN
CASES_FILE = Path(__file__).with_name("cases.tsv")
COLUMNS = ("case_id", "functionality", "target", "term", "text", "gold", "checked")

# Words Korean comments use for each group: (neutral nouns, slurs). A slur is used only where the
# functionality is about slurs; neutral and positive mentions use the neutral nouns.
GROUPS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "여성/가족": (("여자", "여성", "아줌마", "미혼모", "페미니스트"), ("김치녀", "된장녀", "메갈")),
    "남성": (("남자", "남성", "아저씨", "한국 남자", "유부남"), ("한남", "한남충", "씹치남")),
    "성소수자": (("동성애자", "게이", "레즈비언", "트랜스젠더", "성소수자"), ("똥꼬충", "호모")),
    "인종/국적": (("흑인", "중국인", "조선족", "난민", "동남아 사람"), ("짱깨", "깜둥이", "쪽바리")),
    "연령": (("노인", "어르신", "10대", "20대", "중년"), ("틀딱", "급식충", "잼민이")),
    "지역": (("전라도 사람", "경상도 사람", "대구 사람", "제주도 사람", "충청도 사람"), ("홍어", "개쌍도")),
    "종교": (("기독교인", "불교 신자", "천주교 신자", "교회 다니는 사람", "스님"), ("개독", "먹사", "땡중")),
    "기타 혐오": (("장애인", "기자", "경찰"), ("기레기", "짭새")),
}
# Nouns a speaker can say of themselves ("나도 X인데"), for self-deprecation.
SELF_TERMS = {
    "여성/가족": ("여자",), "남성": ("남자", "아저씨"), "성소수자": ("게이", "레즈비언"),
    "인종/국적": ("조선족", "중국인"), "연령": ("20대", "노인", "10대"), "지역": ("전라도 사람", "경상도 사람", "대구 사람"),
    "종교": ("기독교인", "불교 신자"), "기타 혐오": ("기자",),
}  # fmt: skip

# Particles after a noun: the first form after a final consonant, the second after a vowel.
PARTICLES = {"은": ("은", "는"), "이": ("이", "가"), "을": ("을", "를"), "과": ("과", "와"),
             "이라": ("이라", "라"), "이라는": ("이라는", "라는"), "이지만": ("이지만", "지만"),
             "인데": ("인데", "인데")}  # fmt: skip


def has_final(word: str) -> bool:
    last = word.rstrip()[-1]
    if is_syllable(last):
        return split_syllable(last)[2] != ""
    return last in "013678lmnLMN"  # a digit or letter read with a final consonant (10대 ends in 대)


def fill(template: str, term: str) -> str:
    """`template` with {X} replaced by `term` and {은}, {이}, ... by the particle that fits it."""
    text = template.replace("{X}", term)
    for key, (after_consonant, after_vowel) in PARTICLES.items():
        text = text.replace("{" + key + "}", after_consonant if has_final(term) else after_vowel)
    return text


# -- hateful templates, one list per functionality: gold = the target's label -----------------
HATEFUL = {
    "derog_explicit": (
        "{X}{은} 다 쓰레기야",
        "{X}{은} 진짜 구제불능이다",
        "{X} 같은 것들은 상종할 가치도 없음",
    ),
    "derog_dehumanise": (
        "{X}{은} 사람이 아니라 벌레다",
        "{X}{은} 짐승이랑 다를 게 없음",
        "{X}{은} 바퀴벌레처럼 끝도 없이 기어 나온다",
    ),
    "derog_implicit": (
        "{X}{이} 하는 일이 다 그렇지 뭐",
        "역시 {X}{이라} 그런지 생각이 없네",
        "{X}{은} 원래 머리가 나빠서 어쩔 수 없음",
    ),
    "stereotype_flattering": (
        "{X}{은} 원래 다 순해서 시키는 대로 잘함",
        "{X}{은} 타고나길 다 손재주가 좋다니까",
    ),
    "threat": (
        "{X}{은} 전부 이 나라에서 쫓아내야 한다",
        "{X} 보이면 가만 안 둔다",
        "{X}{은} 싹 다 없애버려야 돼",
    ),
    "hate_question": (
        "{X}{은} 왜 하나같이 다 멍청함?",
        "{X}{이} 사람 구실 하는 거 본 적 있냐?",
    ),
    "hate_opinion": (
        "내 생각엔 {X}{은} 사회에 해만 끼치는 존재 같다",
        "솔직히 {X}{은} 없어져야 한다고 본다",
    ),
    "profanity_at_group": (
        "씨발 {X}{은} 진짜 역겹다",
        "{X} 새끼들 존나 싫다",
    ),
    "pronoun_hate": (
        "{X}들 봤는데 걔네는 진짜 짐승 같더라",
        "{X}? 그 인간들은 다 사라져야 함",
    ),
}
SLUR_HATEFUL = ("{X}{은} 다 꺼져라", "{X} 또 시작이네 지겹다", "{X}들은 답이 없다")

# -- non-hateful templates with a neutral noun: gold clean ------------------------------------
NOT_HATEFUL = {
    "neutral_mention": (
        "우리 동네에도 {X}{이} 많이 산다",
        "어제 {X}에 관한 다큐멘터리를 봤다",
        "오늘 뉴스에 {X} 관련 기사가 나왔다",
        "{X}{을} 대상으로 한 설문조사 결과가 발표됐다",
    ),
    "positive_mention": (
        "{X}{은} 우리 사회의 소중한 구성원이다",
        "{X}도 똑같이 존중받아야 한다",
        "{X} 친구가 생겨서 정말 기쁘다",
    ),
    "neutral_question": (
        "{X}{은} 보통 어디서 모임을 해?",
        "{X} 관련 통계는 어디서 볼 수 있나요?",
    ),
    "negated_hate": (
        "{X}{이} 열등하다는 말은 사실이 아니다",
        "{X}{을} 혐오할 이유는 하나도 없다",
        "나는 {X}{이} 전혀 싫지 않다",
    ),
    "counter_quote": (
        "'{X}{은} 다 쓰레기'라는 댓글을 보고 너무 화가 났다",
        "'{X}{은} 꺼져라' 같은 말은 명백한 혐오 발언이다",
        "누가 {X}{을} 벌레라고 부르던데 정말 어이가 없다",
    ),
    "counter_denounce": (
        "{X}{을} 향한 혐오 발언은 이제 멈춰야 한다",
        "{X}{을} 차별하는 건 잘못된 일이다",
    ),
    "pronoun_neutral": (
        "{X}{을} 만났는데 그분들은 정말 친절했다",
        "{X}? 그 사람들도 다 똑같은 이웃이지",
    ),
}
SLUR_MENTION = (
    "'{X}'{이라는} 말은 혐오 표현이니 쓰지 맙시다",
    "'{X}' 같은 단어를 아무렇지 않게 쓰는 건 문제다",
)
SELF_DEPRECATION = (
    "나도 {X}{인데} 나는 왜 이렇게 게으른지 모르겠다ㅋㅋ",
    "{X}{인데} 오늘도 실수만 잔뜩 했네 ㅠㅠ",
)

# -- hand-written cases without a group ------------------------------------------------------
ABUSE_INDIVIDUAL = (  # gold 악플/욕설, no hate label
    "너 진짜 멍청하구나", "얼굴도 못생긴 게 말은 많네", "니 인생이나 잘 살아라 병신아", "그 입 좀 닫아라 제발",
    "너 같은 놈이랑은 말도 섞기 싫다", "꺼져 이 찐따야", "댓글 꼬라지 보니 머리가 비었네", "너는 진짜 답이 없다 ㅉㅉ",
    "니가 뭘 안다고 나대냐", "저 유튜버 진짜 역겹다", "이 인간 또 헛소리하네", "닥치고 있어라 좀",
    "니 얼굴 보니까 밥맛 떨어진다", "지능 수준 알 만하다", "개념은 밥 말아 먹었냐", "이 새끼 진짜 웃기는 놈이네",
    "관종 짓 그만하고 꺼져", "니 부모가 불쌍하다", "멍청한 소리 그만 좀 해라", "너 같은 건 어디 가도 무시당함",
    "이 사람 진짜 노답이네", "찌질하게 굴지 마라", "뭐 이런 한심한 놈이 다 있냐", "니 수준에 딱 맞는 댓글이다",
    "그 따위로 살 거면 조용히 살아", "어휴 저 돌대가리", "진짜 꼴값 떨고 있네", "입만 열면 거짓말이네 이 사기꾼",
    "너 때문에 다 망했잖아 병신아", "재수 없는 놈",
)  # fmt: skip
PROFANITY_NO_TARGET = (  # profanity at no one: not hate (악플/욕설 not checked)
    "아 씨발 또 야근이네", "존나 맛있다 이거", "와 씨발 개웃기네ㅋㅋ", "시발 지갑 잃어버림", "비 존나 온다",
    "아 존나 짜증나 버스 또 놓쳤네", "개빡치네 와이파이 또 끊김", "헐 대박 존나 예쁘다", "아 씨 발가락 찧었다 존나 아파",
    "미친 이 노래 존나 좋다", "오늘 시험 개망했다 시발", "와 존나 춥다 진짜", "씨발 이거 개꿀이네ㅋㅋ", "씨발 우산 두고 왔다",
    "아 존나 배고프다", "씨발 월요일이다", "개웃겨 진짜 미쳤다ㅋㅋㅋ", "존나 피곤해서 죽을 것 같다",
    "와 씨발 골 들어갔다", "아 씨발 알람 또 못 들었네",
)  # fmt: skip
ABUSE_OBJECT = (  # an insult to a thing, no person: not hate
    "이 노트북 진짜 쓰레기다", "오늘 날씨 진짜 최악이네", "이 영화 완전 망작이다", "이 앱 업데이트 하고 나서 개판이네",
    "이 라면 맛이 너무 구리다", "이 게임 밸런스 진짜 엉망이다", "지하철 에어컨 고장 나서 찜통이다", "이 책 진짜 지루해서 못 읽겠다",
    "폰 배터리가 하루를 못 간다 쓰레기", "이 식당 서비스 최악임", "이번 드라마 결말 진짜 어이없다", "회사 프린터 또 고장 났다",
    "새로 산 신발이 너무 불편하다", "이 노래 가사가 유치하다", "도로 공사 때문에 길이 엉망이다", "이번 패치 완전 망했네",
    "커피가 너무 써서 못 마시겠다", "버스 시간표가 엉터리다", "이 의자 삐걱거려서 짜증난다", "택배 상자가 다 찌그러져 왔다",
)  # fmt: skip
CRITICISM_NONPROTECTED = (  # criticism of a team, a club or a shop's staff, no social group: not hate
    "우리 팀 수비수들 오늘 진짜 못했다", "이번 시즌 감독 전술이 너무 답답하다", "동아리 회의가 매번 너무 길다",
    "이 식당 직원들 오늘따라 너무 느리다", "우리 반 조별 과제 팀원들 연락이 안 된다", "게임 같은 팀 사람들 호흡이 하나도 안 맞네",
    "이번 공연 스태프들 진행이 매끄럽지 못했다", "그 밴드 이번 앨범은 좀 실망이다", "응원하는 구단 프런트가 일을 못 한다",
    "편의점 야간 알바 교대가 자꾸 늦는다", "팀장님 회의 진행이 너무 비효율적이다", "이번 대회 심판 판정이 좀 아쉬웠다",
    "아파트 관리사무소 대처가 늦었다", "학원 강사들 설명이 너무 빠르다", "이 카페 알바들 주문을 자꾸 틀린다",
    "우리 학교 축구부 올해 성적이 별로다", "배달 기사님이 길을 헤맸다", "이 유튜브 채널 편집자들 요즘 성의가 없다",
    "동네 헬스장 트레이너들 너무 바쁘다", "이번 프로젝트 외주 업체가 일정을 못 맞췄다",
)  # fmt: skip


def build() -> list[dict[str, str]]:
    cases: list[dict[str, str]] = []

    def add(
        functionality: str, target: str, term: str, text: str, gold: tuple[str, ...], checked: tuple[str, ...]
    ):
        cases.append({
            "case_id": f"ko-{len(cases) + 1:04d}", "functionality": functionality, "target": target or "-",
            "term": term or "-", "text": text, "gold": ",".join(gold), "checked": ",".join(checked),
        })  # fmt: skip

    for functionality, templates in HATEFUL.items():
        # Profanity at a group is hate and 악플/욕설 (악플/욕설 is not checked: UnSmile's annotators
        # add it to some hateful comments and not to others).
        extra = (ABUSE,) if functionality == "profanity_at_group" else ()
        for target, (nouns, _) in GROUPS.items():
            for template in templates:
                for noun in nouns:
                    add(functionality, target, noun, fill(template, noun), (target, *extra), (target,))
    for target, (_, slurs) in GROUPS.items():
        for template in SLUR_HATEFUL:
            for slur in slurs:
                add("slur_hateful", target, slur, fill(template, slur), (target,), (target,))
    # Spelling games: the disguised word is the only thing that makes each sentence abusive (악플/욕설,
    # checked with every group label) or hateful (a slur for a group, checked for it); see spell_items.
    for functionality, items in SPELL_ITEMS.items():
        for disguised, _plain, _neutral, label in items:
            if label == ABUSE:
                add(functionality, "", "", disguised, (ABUSE,), (*HATE_LABELS, ABUSE))
            else:
                add(functionality, label, "", disguised, (label,), (label,))
    for functionality, templates in NOT_HATEFUL.items():
        for target, (nouns, _) in GROUPS.items():
            for template in templates:
                for noun in nouns:
                    add(functionality, target, noun, fill(template, noun), (CLEAN,), HATE_LABELS)
    for target, (_, slurs) in GROUPS.items():
        for template in SLUR_MENTION:
            for slur in slurs:
                add("slur_mention", target, slur, fill(template, slur), (CLEAN,), HATE_LABELS)
    for target, nouns in SELF_TERMS.items():
        for template in SELF_DEPRECATION:
            for noun in nouns:
                add("self_deprecation", target, noun, fill(template, noun), (CLEAN,), HATE_LABELS)
    for text in ABUSE_INDIVIDUAL:
        add("abuse_individual", "", "", text, (ABUSE,), (*HATE_LABELS, ABUSE))
    for text in PROFANITY_NO_TARGET:
        add("profanity_no_target", "", "", text, (ABUSE,), HATE_LABELS)
    for text in ABUSE_OBJECT:
        add("abuse_object", "", "", text, (CLEAN,), HATE_LABELS)
    for text in CRITICISM_NONPROTECTED:
        add("criticism_nonprotected", "", "", text, (CLEAN,), HATE_LABELS)
    return cases


def write(cases: list[dict[str, str]], path: Path = CASES_FILE) -> None:
    with open(path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, COLUMNS, delimiter="\t", quoting=csv.QUOTE_NONE, lineterminator="\n")
        writer.writeheader()
        writer.writerows(cases)


if __name__ == "__main__":
    built = build()
    write(built, Path(sys.argv[1]) if len(sys.argv) > 1 else CASES_FILE)
    print(f"{len(built)} cases, {len({c['functionality'] for c in built})} functionalities")
