"""Hyperparameter search with Optuna: the search space from Hydra's sweep syntax, the
study a sweep stores and shares, and the trial a job reports to (for pruning)."""
