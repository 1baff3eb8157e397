"""Smoke test of scripts/bench: `--quick` runs and writes well-formed JSON."""

import json
import math
import os
import subprocess
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BENCH = os.path.join(REPO, "scripts", "bench")
QUICK_CASES = ("floor", "default", "routes-10")


def _number(x):
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def test_bench_quick_writes_well_formed_json(tmp_path):
    out = tmp_path / "bench.json"
    proc = subprocess.run(
        [sys.executable, BENCH, "--quick", "--json", str(out)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, f"scripts/bench failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
    assert out.is_file(), f"no JSON written:\n{proc.stdout}"
    data = json.loads(out.read_text())

    assert data["quick"] is True
    assert data["runs"] == 2 and data["warmup"] == 1

    version = data["helm"]["version"]
    assert isinstance(version, str) and version.startswith("v") and version[1:2].isdigit(), version
    assert isinstance(data["helm"]["path"], str) and data["helm"]["path"]

    cases = data["cases"]
    assert set(QUICK_CASES) <= set(cases), sorted(cases)
    for name in QUICK_CASES:
        case = cases[name]
        assert case["runs"] == 2, name
        s = case["seconds"]
        assert all(_number(s[k]) for k in ("min", "median", "max")), (name, s)
        assert 0 < s["min"] <= s["median"] <= s["max"], (name, s)
        assert len(s["samples"]) == case["runs"], (name, s)
        assert _number(case["ratio_to_floor"]) and case["ratio_to_floor"] > 0, (name, case["ratio_to_floor"])
        assert _number(data["ratios_to_floor"][name]) and data["ratios_to_floor"][name] > 0, name
        rss = case["rss_mib"]
        assert all(_number(rss[k]) for k in ("min", "median", "max")), (name, rss)
        assert 0 < rss["min"] <= rss["median"] <= rss["max"] == case["peak_rss_mib"], (name, rss)
        assert isinstance(case["documents"], int) and case["documents"] >= 0, name
    assert math.isclose(cases["floor"]["ratio_to_floor"], 1.0)
    assert cases["floor"]["documents"] == 1
    assert cases["routes-10"]["routes"] == 10

    # --quick has no 100/1,000-route cases, so no growth check; the reason says so.
    lin = data["linearity"]
    assert lin["available"] is False and lin["reason"]

    # Validator throughput: a figure, or unavailable with a reason (never a crash).
    v = data["validation"]
    assert isinstance(v["available"], bool)
    if v["available"]:
        assert isinstance(v["documents"], int) and v["documents"] > 0
        dps = v["docs_per_second"]
        assert all(_number(dps[k]) and dps[k] > 0 for k in ("min", "median", "max")), dps
        assert dps["min"] <= dps["median"] <= dps["max"], dps
        assert isinstance(v["findings"], int)
    else:
        assert isinstance(v["reason"], str) and v["reason"]
