"""The shipped LoRA adapters, one folder per task (package data)."""

from pathlib import Path

FOLDER = Path(__file__).resolve().parent
