"""Fine-tuning one transformer member: presets, model and tokenizer loading, the Trainer subclass with
its pos_weight BCE loss, the preflight check, and what a run writes (checkpoint, probabilities)."""
