"""The fault suite on real servers (benchmarks/fault_scenarios.py), through the `pitchcraft`
command: a Chroma server killed during an ingest and during a batch of support answers, the
output disk filling up mid-batch, the API server sent SIGTERM with 16 requests in flight.
Each must end with one clear message naming what failed (no traceback), exit code 3 where a
retry can work, and a rerun that completes exactly the missing rows. (The model server
fault runs in benchmarks/faults.py: a second vLLM start costs minutes.)"""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks.fault_scenarios import (
    api_stopped_with_requests_in_flight,
    output_disk_full_mid_batch,
    store_killed_during_ingest,
    store_killed_during_support_batch,
)

pytestmark = pytest.mark.slow


def test_store_killed_during_an_ingest(tmp_path: Path) -> None:
    result = store_killed_during_ingest(tmp_path, copies=2)
    assert result.exit_code == 3, result
    assert "Chroma server" in result.message
    assert result.survived, result
    assert (result.rows_lost, result.rows_duplicated) == (0, 0)


def test_store_killed_during_a_support_batch(tmp_path: Path) -> None:
    result = store_killed_during_support_batch(tmp_path, count=200)
    assert result.exit_code == 3, result
    assert "rerun the same command" in result.message
    assert result.survived, result


def test_output_disk_full_mid_batch(tmp_path: Path) -> None:
    result = output_disk_full_mid_batch(tmp_path, count=100)
    if result.skipped:
        pytest.skip(result.skipped)
    assert result.exit_code == 3, result
    assert "No space left" in result.message
    assert result.survived, result


def test_api_drains_on_sigterm(tmp_path: Path) -> None:
    result = api_stopped_with_requests_in_flight(tmp_path, clients=16)
    assert result.message == "new requests while draining: [503]"
    assert result.survived, result
