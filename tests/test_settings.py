from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from pitchcraft import PitchcraftError, Settings


def test_defaults() -> None:
    s = Settings()
    assert s.plugins is None and s.extra_plugins == []


def test_requests_in_flight_follow_the_backend_unless_set() -> None:
    local, server = Settings(local_max_batch=12), Settings(llm_backend="openai")
    assert (local.concurrency, local.batch_size) == (12, 48)  # the embedded engine's batch
    assert (server.concurrency, server.batch_size) == (64, 256)  # a server batches many
    assert (Settings(concurrency=3).concurrency, Settings(concurrency=3).batch_size) == (3, 12)


def test_environment_with_prefix_and_comma_lists(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PITCHCRAFT_PLUGINS", "copywriter, ab-test")
    monkeypatch.setenv("PITCHCRAFT_CONCURRENCY", "12")
    s = Settings()
    assert s.plugins == ["copywriter", "ab-test"] and s.concurrency == 12


def test_local_toml_is_read_and_environment_wins(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (tmp_path / "pitchcraft.toml").write_text("concurrency = 9\nbatch_size = 5\n")
    monkeypatch.setenv("PITCHCRAFT_BATCH_SIZE", "6")
    s = Settings()
    assert (s.concurrency, s.batch_size) == (9, 6)


def test_config_variable_must_name_a_file(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PITCHCRAFT_CONFIG", "/nonexistent/pitchcraft.toml")
    with pytest.raises(PitchcraftError, match="which is not a file"):
        Settings()


def test_unknown_keys_in_toml_are_rejected(tmp_path: Path) -> None:
    (tmp_path / "pitchcraft.toml").write_text("concurrancy = 9\n")
    with pytest.raises(ValidationError, match="concurrancy"):
        Settings()


def test_the_banner_says_which_engine_answers() -> None:
    assert "embedded model" in Settings().backend_line()
    auto = Settings(llm_backend="auto", llm_url="http://127.0.0.1:8100/v1")
    assert "http://127.0.0.1:8100/v1 once it answers" in auto.backend_line()
    assert auto.concurrency == 64  # the server is what it is for
