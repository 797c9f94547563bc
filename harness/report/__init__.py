"""Reports: `python -m harness.report <results folder>`, and the multirun callback that builds
one when a sweep ends. Kept import-light: the callback is loaded by every Hydra run."""
