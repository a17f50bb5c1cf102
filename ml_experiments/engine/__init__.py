"""Training engines: the hand-written PyTorch loop and the scikit-learn path."""
