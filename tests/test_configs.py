from __future__ import annotations

import pytest

from hf_trainer.training.arguments import parse_train_args


def test_design_defaults():
    model_args, data_args, args = parse_train_args([])
    assert model_args.model == "kcelectra" and args.output_dir == "outputs/kcelectra"
    assert (args.num_train_epochs, args.learning_rate, args.weight_decay, args.warmup_steps) == (
        80,
        2e-5,
        0.01,
        500,
    )
    assert (args.adam_beta1, args.adam_beta2, args.adam_epsilon, args.max_grad_norm) == (
        0.9,
        0.999,
        1e-8,
        1.0,
    )
    assert args.lr_scheduler_type.value == "cosine" and args.per_device_train_batch_size == 16
    assert args.eval_strategy.value == "epoch" and args.save_strategy.value == "epoch"
    assert args.load_best_model_at_end and args.metric_for_best_model == "f1_macro" and args.greater_is_better
    assert (args.early_stopping_patience, args.early_stopping_threshold) == (10, 0.001)
    assert data_args.max_length == 128 and model_args.classifier_dropout == 0.3
    assert not model_args.trust_remote_code and model_args.use_safetensors is None  # auto: safetensors first


def test_aliases_and_any_training_flag():
    _, _, args = parse_train_args(
        [
            "--epochs",
            "100",
            "--lr",
            "3e-5",
            "--gradient_accumulation_steps",
            "4",
            "--gradient_checkpointing",
            "--output_dir",
            "x",
        ]
    )
    assert (args.num_train_epochs, args.learning_rate, args.gradient_accumulation_steps) == (100, 3e-5, 4)
    assert args.gradient_checkpointing and args.output_dir == "x"


def test_yaml_recipe_then_flags_override(tmp_path):
    config = tmp_path / "r.yaml"
    config.write_text(
        "model: tiny-roberta\nlearning_rate: 1.0e-4\nnum_train_epochs: 5\nmax_length: 64\n"
        "load_best_model_at_end: false\n",
        encoding="utf-8",
    )
    model_args, data_args, args = parse_train_args([str(config), "--epochs", "7"])
    assert model_args.model == "tiny-roberta" and data_args.max_length == 64
    assert args.learning_rate == 1e-4 and args.num_train_epochs == 7 and not args.load_best_model_at_end
    assert args.output_dir == "outputs/tiny-roberta"


def test_shipped_yaml_recipes_parse():
    for name in ("kcelectra", "soongsilbert", "roberta"):
        model_args, _, args = parse_train_args([f"recipes/configs/{name}.yaml"])
        assert (
            model_args.model == name and args.output_dir == f"outputs/{name}" and args.learning_rate == 2e-5
        )


def test_unknown_yaml_key_and_unknown_preset_are_clear(tmp_path):
    config = tmp_path / "r.yaml"
    config.write_text("learning_rat: 1.0e-4\n", encoding="utf-8")
    with pytest.raises(ValueError, match="unknown argument 'learning_rat'.*learning_rate"):
        parse_train_args([str(config)])
    with pytest.raises(ValueError, match="Did you mean 'kcelectra'"):
        parse_train_args(["--model", "kcelectr"])


def test_precision_follows_the_hardware():
    _, _, args = parse_train_args(["--precision", "auto"])
    assert not args.fp16 and not args.bf16 and "no CUDA device" in args.precision_note
    with pytest.raises(ValueError, match="--precision"):
        parse_train_args(["--precision", "fp8"])


def test_korean_flags_survive_a_c_locale():
    # Under LC_ALL=C Python hands argv over surrogate-escaped; the parser recovers the UTF-8 text.
    escaped = "문장".encode().decode("ascii", errors="surrogateescape")
    _, data_args, _ = parse_train_args(["--text_column", escaped, "--output_dir", "x"])
    assert data_args.text_column == "문장"


@pytest.mark.parametrize(
    "recipe",
    [
        "train",
        "prepare_data",
        "ensemble",
        "thresholds",
        "evaluate_test",
        "robustness",
        "export",
        "predict",
        "publish",
        "benchmark",
    ],
)
def test_every_recipe_explains_itself_with_help(recipe, capsys):
    from tests.helpers import load_recipe

    with pytest.raises(SystemExit) as info:
        load_recipe(recipe).main(["--help"])
    assert info.value.code == 0 and "usage:" in capsys.readouterr().out
