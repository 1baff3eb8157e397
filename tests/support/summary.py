"""Counters for the suite's last line (conftest's pytest_terminal_summary) and for tests that
check how often something happened: tests bump them with count("bad_input_cases") or
count("hypothesis_examples", n); a kind not listed in STATS starts at 0."""
from __future__ import annotations

STATS = {"bad_input_cases": 0, "hypothesis_examples": 0}


def count(kind: str, n: int = 1) -> None:
    STATS[kind] = STATS.get(kind, 0) + n
