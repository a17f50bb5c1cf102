"""Everything MLflow: the store, the run's lifecycle and status, what gets logged, and
loading a trained model back. MLflow is imported inside functions, so `--help` and
`--cfg job` never pay for it."""
