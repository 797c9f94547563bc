"""The problem a study tunes: its data, model, search space, metric, folds and fidelity."""
