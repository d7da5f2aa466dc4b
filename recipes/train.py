"""Train one ensemble member for multi-label UnSmile classification.

    accelerate launch recipes/train.py --model kcelectra
    python recipes/train.py recipes/configs/roberta.yaml --epochs 100 --lr 3e-5
    python recipes/train.py --model tiny-electra --data_dir ../shared/data/unsmile --epochs 2
    python recipes/train.py --model char-ngram --data_dir ../shared/data/unsmile   # CPU, seconds

Every TrainingArguments flag works; a YAML recipe given first sets defaults that flags override.
Writes to --output_dir (default outputs/<model>), a folder that holds one member: member.json (its
kind and model), the best checkpoint (safetensors, tokenizer, config; or the char n-gram model's
files), metrics.json, run_config.json, predictions/{val,test}.npz, and for a transformer
pos_weight.json and trainer_state.json. The test probabilities are written, not scored: that
happens once, in recipes/evaluate_test.py.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a checkout without install

from transformers import set_seed

from hf_trainer.data.preparation import prepare_splits_once
from hf_trainer.hub.publish import publish_trained_member
from hf_trainer.members import MemberInfo, claim_folder, member_class
from hf_trainer.training.arguments import parse_train_args
from hf_trainer.utils.errors import run_recipe
from hf_trainer.utils.log import setup_logging

logger = logging.getLogger("hf_trainer.train")


def main(argv: list[str] | None = None) -> dict:
    model_args, data_args, training_args = parse_train_args(argv)
    setup_logging(logging.INFO if training_args.should_log else logging.WARNING)
    logger.info("Model %s -> %s", model_args.trained_from, training_args.output_dir)
    logger.info("Precision: %s", training_args.precision_note)
    member = member_class(model_args.kind)
    output_dir = Path(training_args.output_dir)
    info = MemberInfo(
        member.kind, list(data_args.schema.names), model_args.trained_from, data_args.canonical_steps
    )
    # The folder holds this member only: another kind's or model's files stop the run here.
    claim_folder(output_dir, info, training_args.overwrite_output_dir, write=training_args.should_save
                 and not training_args.preflight_only)  # fmt: skip
    preflight_made_output_dir = training_args.preflight_only and not output_dir.exists()
    if training_args.preflight_only:  # the preflight leaves nothing behind: no folder, no Hub repository
        training_args.push_to_hub = False
    set_seed(training_args.seed)
    splits, data_report = prepare_splits_once(data_args, training_args)
    if not training_args.preflight_only:
        metrics = member.train(model_args, data_args, training_args, splits, data_report)
        if training_args.push_to_hub and training_args.should_save:  # one process uploads
            publish_trained_member(output_dir, training_args, metrics)
        return metrics
    try:
        return member.preflight(model_args, data_args, training_args, splits)
    finally:
        if preflight_made_output_dir and output_dir.is_dir() and not any(output_dir.iterdir()):
            output_dir.rmdir()  # the Trainer creates it; the training stage must find none


if __name__ == "__main__":
    sys.exit(run_recipe(main))
