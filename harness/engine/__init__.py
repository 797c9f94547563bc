"""The engine: a study's folds, the trial loop, its clocks and workers, evaluation."""
