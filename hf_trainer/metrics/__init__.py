"""How predictions are scored, the same way in training, selection and evaluation: multi-label F1
(and the offline `evaluate` module that wraps it) and bootstrap intervals."""
