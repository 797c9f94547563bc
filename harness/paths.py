"""Where the project's own files are: a leaf, so any layer can find the config folder."""

from __future__ import annotations

from pathlib import Path

CONF = Path(__file__).resolve().parent.parent / "conf"  # Hydra's config folder (conf/)
