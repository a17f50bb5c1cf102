"""Config-driven PyTorch experiments: Hydra configs in, MLflow runs out."""
