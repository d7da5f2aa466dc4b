"""Write the synthetic demo sample in UnSmile's TSV format (recipes/demo_data/).

The sample is made up by this project from templates: mild text, with label-specific keywords so
that a tiny model can learn something in a few epochs. It proves the pipeline, not the quality;
real numbers need the real UnSmile files (--data_dir). Deterministic: rerunning gives the same files.

    python recipes/make_demo_data.py [--out recipes/demo_data] [--train_rows 1600] [--valid_rows 400]
"""

from __future__ import annotations

import argparse
import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from hf_trainer.data.labels import UNSMILE_LABELS, UNSMILE_TEXT_COLUMN
from hf_trainer.utils import io
from hf_trainer.utils.errors import InvalidArgument, run_recipe

# Keywords per label; sentences combine them with neutral or mildly negative frames.
TOPICS = {
    "여성/가족": ["여자들", "아줌마들", "며느리", "김여사"],
    "남성": ["남자들", "아저씨들", "군대 얘기하는 남자", "남초 커뮤니티"],
    "성소수자": ["동성애", "퀴어축제", "성소수자", "트랜스젠더"],
    "인종/국적": ["외국인", "중국인", "이민자", "난민"],
    "연령": ["노인들", "요즘 애들", "꼰대", "늙은이"],
    "지역": ["전라도", "경상도", "서울 사람", "충청도"],
    "종교": ["개신교", "교회 다니는 사람", "목사", "무슬림"],
    "기타 혐오": ["장애인", "뚱뚱한 사람", "못생긴 사람", "가난한 사람"],
}
HATE_FRAMES = [
    "{x}은 다 똑같다",
    "{x} 때문에 나라가 망한다",
    "{x} 진짜 이해가 안 된다",
    "{x}은 좀 조용히 했으면",
    "또 {x} 얘기냐 지겹다",
    "{x} 편드는 사람들 이상함",
]
INSULTS = ["바보", "멍청이", "한심한 놈", "머저리", "쓰레기 같은 글", "정신 나간 소리"]
INSULT_FRAMES = ["이 {y} 같은 댓글 뭐냐", "{y} 소리 그만해라", "글쓴이 {y}", "진짜 {y}네"]
CLEAN = [
    "오늘 날씨 정말 좋네요",
    "이 영화 생각보다 재미있었어요",
    "점심 메뉴 추천 부탁드립니다",
    "기사 잘 읽었습니다 감사합니다",
    "주말에 등산 가려고 해요",
    "새로 나온 노래 좋더라",
    "경기 결과 아쉽지만 잘 싸웠다",
    "좋은 정보 감사해요",
]
TAILS = [
    "",
    "",
    " ㅋㅋ",
    " ㅎㅎ",
    " 진짜",
    " 요즘",
    "...",
    " 그냥 그렇다고",
    " 아무튼",
    " 솔직히 말해서",
    " ㄹㅇ",
]
OPENERS = ["", "", "", "근데 ", "솔직히 ", "아니 ", "오늘도 ", "역시 ", "댓글 보니까 ", "기사 보니 ", "또 "]
# How often each hate label occurs; 연령 and 기타 혐오 are rare on purpose, as in UnSmile.
WEIGHTS = {
    "여성/가족": 10,
    "남성": 8,
    "성소수자": 7,
    "인종/국적": 9,
    "연령": 3,
    "지역": 7,
    "종교": 6,
    "기타 혐오": 3,
}


def make_row(rng: random.Random) -> tuple[str, list[int]]:
    labels = dict.fromkeys(UNSMILE_LABELS, 0)
    kind = rng.random()
    if kind < 0.4:
        text = rng.choice(CLEAN)
        labels["clean"] = 1
    elif kind < 0.55:
        text = rng.choice(INSULT_FRAMES).format(y=rng.choice(INSULTS))
        labels["악플/욕설"] = 1
    else:
        names = list(WEIGHTS)
        label = rng.choices(names, weights=[WEIGHTS[n] for n in names])[0]
        text = rng.choice(HATE_FRAMES).format(x=rng.choice(TOPICS[label]))
        labels[label] = 1
        if rng.random() < 0.1:  # some comments hit two groups
            other = rng.choice([n for n in names if n != label])
            text += f" {rng.choice(TOPICS[other])}도 마찬가지"
            labels[other] = 1
        if rng.random() < 0.15:
            text += f" {rng.choice(INSULTS)}"
            labels["악플/욕설"] = 1
    return rng.choice(OPENERS) + text + rng.choice(TAILS), [labels[name] for name in UNSMILE_LABELS]


def write_split(path: Path, rows: int, rng: random.Random) -> None:
    header = "\t".join([UNSMILE_TEXT_COLUMN, *UNSMILE_LABELS, "개인지칭"])
    lines = [header]
    for _ in range(rows):
        text, labels = make_row(rng)
        lines.append("\t".join([text, *map(str, labels), "0"]))
    io.write_text(path, "\n".join(lines) + "\n")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--out", default=str(Path(__file__).parent / "demo_data"))
    parser.add_argument("--train_rows", type=int, default=1600)
    parser.add_argument("--valid_rows", type=int, default=400)
    parser.add_argument("--seed", type=int, default=20221)
    args = parser.parse_args(argv)
    if min(args.train_rows, args.valid_rows) < 1:
        raise InvalidArgument("--train_rows and --valid_rows must be at least 1")
    rng = random.Random(args.seed)
    out = io.ensure_writable(args.out)
    write_split(out / "demo_train.tsv", args.train_rows, rng)
    write_split(out / "demo_test.tsv", args.valid_rows, rng)
    print(f"wrote {out / 'demo_train.tsv'} and {out / 'demo_test.tsv'}")


if __name__ == "__main__":
    sys.exit(run_recipe(main))
