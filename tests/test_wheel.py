"""The wheel as a user gets it: built from the tracked files, its only top-level entry is
`pitchcraft`, and in a fresh virtualenv with only the core dependencies the command lists
every built-in plugin while the old generic names are not importable."""

from __future__ import annotations

import json
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest

from pitchcraft.registry import BUILTIN_PLUGINS

REPO = Path(__file__).resolve().parent.parent
pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]


def run(*args: str | Path, cwd: Path | None = None) -> str:
    done = subprocess.run(
        [str(a) for a in args], cwd=cwd, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, f"{args}: {done.stdout}\n{done.stderr}"
    return done.stdout


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Built from a copy of the tracked files, so nothing left in a build folder gets in."""
    source = tmp_path_factory.mktemp("source")
    for name in run("git", "ls-files", cwd=REPO).splitlines():
        if (REPO / name).is_file():
            (source / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, source / name)
    out = tmp_path_factory.mktemp("dist")
    uv = run("bash", REPO / "scripts" / "uv.sh").strip()
    run(uv, "build", "--wheel", "--quiet", "--out-dir", out, source)
    (built,) = out.glob("pitchcraft-*.whl")
    return built


def test_the_wheel_holds_one_top_level_package_with_its_data(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    assert {n.split("/")[0] for n in names} == {
        "pitchcraft",
        wheel.name.split("-py3")[0] + ".dist-info",
    }
    tracked = run(
        "git", "ls-files", "toolkit", "plugins", "demo", "prompts", "chains", "adapters", cwd=REPO
    )
    mapping = {
        "toolkit/": "pitchcraft/",
        "plugins/": "pitchcraft/plugins/",
        "demo/": "pitchcraft/demo/",
        "prompts/": "pitchcraft/prompts/",
        "chains/": "pitchcraft/chains/",
        "adapters/": "pitchcraft/adapters/",
    }
    expected = set()
    for name in tracked.splitlines():
        folder = name.split("/")[0] + "/"
        expected.add(mapping[folder] + name.removeprefix(folder))
    assert expected - set(names) == set()  # every shipped file: code, prompts, tables, adapters


def test_a_fresh_virtualenv_with_the_wheel(wheel: Path, tmp_path: Path) -> None:
    uv = run("bash", REPO / "scripts" / "uv.sh").strip()
    venv = tmp_path / "venv"
    run(uv, "venv", "--quiet", "--python", "python3", venv)
    python = venv / "bin" / "python"
    run(uv, "pip", "install", "--quiet", "--python", python, "-c", REPO / "constraints.txt", wheel)
    listed = json.loads(run(venv / "bin" / "pitchcraft", "plugins", "list", "--json", cwd=tmp_path))
    assert {p["name"] for p in listed["plugins"]} == set(BUILTIN_PLUGINS)
    assert listed["failures"] == []
    run(python, "-c", "from pitchcraft import Plugin, Context, load_registry", cwd=tmp_path)
    for old in ("toolkit", "plugins", "demo", "prompts"):
        done = subprocess.run(
            [str(python), "-c", f"import {old}"], cwd=tmp_path, capture_output=True, text=True
        )
        assert done.returncode != 0 and "ModuleNotFoundError" in done.stderr, old
