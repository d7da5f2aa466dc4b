"""Publishing to the Hugging Face Hub: the model card, the ensemble bundle with its Space, and single
members; tokens are never logged or written."""
