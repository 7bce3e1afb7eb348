"""Fault suite: real servers on this machine are killed, stopped or starved mid-work, and the
same command is run again once they are back (see fault_scenarios.py for each fault).

For each fault: what the user saw (the first error line), the exit code (3: a dependency or
the disk failed, the same command may work later), rows lost and written twice after the
rerun, and the time from the dependency being back to the work being complete (for the API:
the time the drain took).

    python -m benchmarks.faults [--quick] [--only ingest,support,disk,api,model]

--quick runs smaller inputs (the model-server fault included: it is the slow one).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from benchmarks.common import print_json_line, print_table
from benchmarks.fault_scenarios import SCENARIOS, FaultResult

QUICK_SIZES = {
    "ingest": {"copies": 2},
    "support": {"count": 200},
    "disk": {"count": 100},
    "model": {"count": 6},
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="smaller inputs")
    parser.add_argument("--only", default=",".join(SCENARIOS), help="comma-separated faults")
    args = parser.parse_args()
    results: list[FaultResult] = []
    for name in args.only.split(","):
        sizes = QUICK_SIZES.get(name, {}) if args.quick else {}
        started = time.perf_counter()
        with tempfile.TemporaryDirectory(prefix=f"fault-{name}-") as tmp:
            result = SCENARIOS[name](Path(tmp), **sizes)
        print(f"{result.name}: {time.perf_counter() - started:.0f} s", flush=True)
        results.append(result)
    ran = [r for r in results if not r.skipped]
    print()
    print_table(
        ["fault", "survived", "exit", "rows", "lost", "twice", "recover s", "what the user saw"],
        [
            [
                r.name,
                "skipped" if r.skipped else r.survived,
                r.exit_code,
                r.rows_total,
                r.rows_lost,
                r.rows_duplicated,
                round(r.recover_s, 1),
                (r.skipped or r.message)[:110],
            ]
            for r in results
        ],
    )
    for r in results:
        for note in r.notes:
            print(f"  {r.name}: {note}")
    print()
    print_json_line(
        {
            "faults_survived": sum(r.survived for r in ran),
            "faults_total": len(ran),
            "faults_skipped": len(results) - len(ran),
            "rows_lost": sum(r.rows_lost for r in ran),
            "rows_duplicated": sum(r.rows_duplicated for r in ran),
            "recover_s": {r.name: round(r.recover_s, 1) for r in ran},
        }
    )


if __name__ == "__main__":
    main()
