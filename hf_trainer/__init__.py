"""A Hugging Face Trainer recipe for Korean multi-label hate-speech classification (UnSmile)."""

from .data.labels import UNSMILE_LABELS, LabelSchema

__all__ = ["UNSMILE_LABELS", "LabelSchema", "Ensemble"]
__version__ = "0.1.0"


def __getattr__(name: str):
    # Lazy: `import hf_trainer` stays light; torch/transformers load when Ensemble is used.
    if name == "Ensemble":
        from .serving.inference import Ensemble

        return Ensemble
    raise AttributeError(f"module 'hf_trainer' has no attribute {name!r}")
