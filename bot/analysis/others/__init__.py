"""Other frameworks' files, named and counted, never loaded: ONNX, TFLite, safetensors, PyTorch, NumPy."""
