"""Loaders for real datasets that ship inside PyPI packages, and the bundled demo shop."""
