"""Experiment tracking of studies and sweeps (`tracking=mlflow`), read from finished studies."""
