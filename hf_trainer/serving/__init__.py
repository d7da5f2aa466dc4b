"""Using a trained ensemble: `Ensemble` (load, predict, explain), occlusion explanations, the ONNX
export with its agreement check, and the Gradio app."""
