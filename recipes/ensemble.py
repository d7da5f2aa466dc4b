"""Find ensemble weights on the validation split and write ensemble.json.

    python recipes/ensemble.py --members outputs/kcelectra outputs/soongsilbert outputs/roberta \
        --output_dir outputs/ensemble [--objective f1_macro_tuned|logloss] [--calibrate temperature] \
        [--gate_member outputs/char-ngram-blind]

Reads each member's predictions/val.npz. With --calibrate temperature, each member's scores are first
rescaled by one temperature fitted on val (ensemble.json keeps it; every later stage and inference
apply it). With --gate_member, that member (trained blind to group names) is the mention gate:
weight 0, and the hate labels scaled by its hate score at a strength chosen on val
(hf_trainer/selection/mention_gate.py). Thresholds are added by recipes/thresholds.py.
"""

from __future__ import annotations

import logging
import sys
import time
from functools import partial
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from hf_trainer.members import folder_kind
from hf_trainer.members.char_ngram import blind_member
from hf_trainer.selection.arguments import EnsembleArguments
from hf_trainer.selection.calibration import apply_temperature, calibration_errors, fit_temperature
from hf_trainer.selection.cross_validation import choose_mixture
from hf_trainer.selection.ensemble import EnsembleSpec
from hf_trainer.selection.mention_gate import apply_gate
from hf_trainer.selection.thresholds import tuned_macro_f1
from hf_trainer.selection.weight_search import removal_effects
from hf_trainer.training.predictions import load_aligned
from hf_trainer.utils.arguments import RecipeArgumentParser
from hf_trainer.utils.errors import InvalidArgument, run_recipe
from hf_trainer.utils.log import setup_logging

logger = logging.getLogger("hf_trainer.ensemble_recipe")


def main(argv: list[str] | None = None) -> EnsembleSpec:
    (args,) = RecipeArgumentParser((EnsembleArguments,)).parse(argv)
    setup_logging()
    start = time.perf_counter()
    members = load_aligned(args.members, "val")
    labels = members[0].references
    temperatures = [1.0] * len(members)
    if args.calibrate == "temperature":
        temperatures = [fit_temperature(m.probs, labels) for m in members]
        for member, temperature in zip(members, temperatures, strict=True):
            logger.info(
                "%-16s temperature %.3f: val ECE %.4f -> %.4f",
                member.name,
                temperature,
                calibration_errors(member.probs, labels, member.label_names)["ece_mean"],
                calibration_errors(apply_temperature(member.probs, temperature), labels, member.label_names)[
                    "ece_mean"
                ],
            )
    calibrated = [apply_temperature(m.probs, t) for m, t in zip(members, temperatures, strict=True)]
    gate = gate_position(args.gate_member, args.members)
    names = list(members[0].label_names)
    weights, value, weight_choice, gate_choice = choose_mixture(
        calibrated, labels, args.objective, names, gate
    )
    kinds = [folder_kind(d) for d in args.members]
    spec = EnsembleSpec.from_members(
        members, kinds, weights, args.objective, value, args.output_dir, temperatures
    )
    spec.weight_choice = weight_choice
    weighted = [i for i in range(len(members)) if i != gate]
    after_mix = None
    if gate is not None:
        spec.gate = {"member": members[gate].name, "strength": gate_choice["strength"], "choice": gate_choice}
        after_mix = partial(
            apply_gate, gate_probs=calibrated[gate], strength=gate_choice["strength"], labels=names
        )
        log_gate(spec.gate, args.members[gate])
    spec.removal = removal_effects([calibrated[i] for i in weighted], weights[weighted], labels,
                                   [members[i].name for i in weighted], after_mix=after_mix)  # fmt: skip
    mixed = spec.mix([m.probs for m in members])
    path = spec.save(args.output_dir)
    for entry in spec.members:
        logger.info(
            "%-16s weight %.3f  val macro F1 %.4f (0.5)  %.4f (tuned)",
            entry["name"],
            entry["weight"],
            entry["val_f1_macro"],
            entry["val_f1_macro_tuned"],
        )
    if weight_choice.get("best") and weight_choice["best"]["weights"] != weight_choice["chosen"]["weights"]:
        logger.info(
            "Weights: the best val candidate (%s, %.4f) is inside the noise of candidates with less weight on "
            "weak members; chose %s (%.4f)",
            ", ".join(f"{w:.3f}" for w in weight_choice["best"]["weights"]), weight_choice["best"]["value"],
            ", ".join(f"{w:.3f}" for w in weight_choice["chosen"]["weights"]), value,
        )  # fmt: skip
    for effect in spec.removal:
        if effect["changes_nothing"]:
            logger.info(
                "%s: leaving it out changes val macro F1 (tuned) by %+.4f [%.4f, %.4f], inside the noise: "
                "it adds nothing these rows can show",
                effect["member"], effect["difference"], *effect["ci"],
            )  # fmt: skip
    logger.info(
        "Ensemble: val %s %.4f (tuned-threshold macro F1 %.4f); %d rows; %.2fs; wrote %s",
        args.objective,
        value,
        tuned_macro_f1(mixed, labels),
        len(labels),
        time.perf_counter() - start,
        path,
    )
    return spec


def log_gate(gate: dict, folder: str) -> None:
    """The gate's strength and the figures it was chosen by; a warning when its member is not known
    to read comments blind to group names."""
    if not blind_member(folder):
        logger.warning("--gate_member %s was not trained blind to group names (char-ngram-blind): as a gate "
                       "it judges hate with the names in view", folder)  # fmt: skip
    choice = gate["choice"]
    logger.info(
        "Mention gate %s: strength %g; ungated CV val macro F1 %.4f, clean val rows flagged %.1f%%; per strength "
        "(CV macro F1, clean rows flagged): %s", gate["member"], gate["strength"],
        choice["ungated"]["cv_f1_macro"], 100 * choice["ungated"]["clean_rows_flagged"],
        ", ".join(f"{s}: {t['cv_f1_macro']:.4f}, {100 * t['clean_rows_flagged']:.1f}%" for s, t in choice["tried"].items()),
    )  # fmt: skip


def gate_position(gate_member: str | None, member_dirs: list[str]) -> int | None:
    """The position of --gate_member among --members (a folder as given, or its folder name)."""
    if gate_member is None:
        return None
    for i, folder in enumerate(member_dirs):
        if (
            gate_member in (folder, Path(folder).name)
            or Path(gate_member).resolve() == Path(folder).resolve()
        ):
            return i
    raise InvalidArgument(f"--gate_member {gate_member!r} is not one of --members {member_dirs}")


if __name__ == "__main__":
    sys.exit(run_recipe(main))
