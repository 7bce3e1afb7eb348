"""The shipped YAML chains (package data)."""

from pathlib import Path

FOLDER = Path(__file__).resolve().parent
