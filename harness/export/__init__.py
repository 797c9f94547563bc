"""Finished studies written out into other tools' own formats (`python -m harness.export`)."""
