"""The shipped Jinja2 prompt templates, one folder per plugin (package data)."""

from pathlib import Path

FOLDER = Path(__file__).resolve().parent
