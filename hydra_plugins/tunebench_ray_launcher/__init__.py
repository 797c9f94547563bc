"""`hydra/launcher=ray`: a multirun's studies as Ray tasks (see ray_launcher.py)."""
