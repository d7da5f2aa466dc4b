"""`run_all.sh`: the stages of the whole run, their resumable runner with input fingerprints, and the
summary; `python -m hf_trainer.pipeline` is its entry point."""
