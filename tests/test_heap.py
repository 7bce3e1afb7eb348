"""Freed heap memory goes back to the system (glibc), measured in a process of its own."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

PROBE = """
from pathlib import Path
from pitchcraft.heap import trim_heap

def resident():
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024

blocks = [bytearray(b"x" * 65536) for _ in range(4000)]  # 256 MB in heap-sized pieces
kept = blocks[::200]  # a few survivors keep the freed space from shrinking on its own
del blocks
before = resident()
trim_heap()
print(before - resident())
"""


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads /proc (Linux)")
def test_trim_returns_freed_heap_pages() -> None:
    import ctypes.util

    if ctypes.util.find_library("c") is None:
        pytest.skip("no C library to trim")
    done = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    assert int(done.stdout.strip()) > 150 * 2**20  # most of the 256 MB freed comes back
