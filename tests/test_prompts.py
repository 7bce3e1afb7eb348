from __future__ import annotations

from pathlib import Path

import pytest

from pitchcraft import Context, PitchcraftError, Settings
from pitchcraft.prompt_loader import PromptLoader, PromptNotFound


def write(root: Path, rel: str, text: str) -> None:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def test_render_in_each_language(tmp_path: Path) -> None:
    write(tmp_path, "copy/title.zh.jinja", "为{{ product }}写标题")
    write(tmp_path, "copy/title.en.jinja", "Write a title for {{ product }}")
    loader = PromptLoader([tmp_path])
    assert loader.render("copy", "title", "zh", product="保温杯") == "为保温杯写标题"
    assert loader.render("copy", "title", "en", product="a bottle") == "Write a title for a bottle"
    assert loader.languages("copy", "title") == ["en", "zh"]


def test_missing_variable_is_an_error_not_an_empty_string(tmp_path: Path) -> None:
    write(tmp_path, "copy/title.en.jinja", "Title for {{ product }}")
    with pytest.raises(PitchcraftError, match="'product' is undefined"):
        PromptLoader([tmp_path]).render("copy", "title", "en")


def test_missing_language_says_which_exist(tmp_path: Path) -> None:
    write(tmp_path, "copy/title.en.jinja", "x")
    with pytest.raises(PromptNotFound, match="it exists in: en"):
        PromptLoader([tmp_path]).render("copy", "title", "zh")


def test_user_folder_overrides_shipped_and_plugin_folders(tmp_path: Path) -> None:
    user, plugin_dir = tmp_path / "user", tmp_path / "plugin"
    write(user, "seo/ask.en.jinja", "user version")
    write(plugin_dir, "seo/ask.en.jinja", "plugin version")
    write(plugin_dir, "seo/other.en.jinja", "only in plugin")
    ctx = Context(Settings(prompts_dir=user), plugin_prompt_dirs=[plugin_dir])
    assert ctx.prompts.render("seo", "ask", "en") == "user version"
    assert ctx.prompts.render("seo", "other", "en") == "only in plugin"
    assert Context(Settings(), [plugin_dir]).prompts.render("seo", "ask", "en") == "plugin version"
