"""Choosing on validation: ensemble weights over the members' saved probabilities, per-label
thresholds (with cross-validated estimates), temperature calibration, and ensemble.json itself."""
