"""Session fixtures: one helm, one validator, one render cache for the whole run.

Every successful render is validated (core kinds with kubernetes-validate, custom
resources with the @kubernetes-models validators plus the API-server rules in
tests/validators), so no test has to remember to call a validator.
"""
from __future__ import annotations

import os
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))

from helm import ROOT, Helm, find_helm  # noqa: E402
from support.istio import IstioHarness  # noqa: E402
from validators import ManifestValidator  # noqa: E402

CI_DIR = ROOT / "ci"
STATS = {"bad_input_cases": 0, "hypothesis_examples": 0}
_SESSION: dict = {}


def ci_files() -> list[Path]:
    return sorted(CI_DIR.glob("*.yaml"))


def load_ci(path: Path) -> dict:
    return yaml.safe_load(path.read_text()) or {}


@pytest.fixture(scope="session")
def validator():
    v = ManifestValidator()
    _SESSION["validator"] = v
    yield v
    v.close()


@pytest.fixture(scope="session")
def helm(validator) -> Helm:
    binary, version = find_helm()
    h = Helm(binary=binary, version=version, validate=validator.validate)
    _SESSION["helm"] = h
    # Warm the cache with the renders most tests read, two at a time (2 cores).
    warm = [None] + [load_ci(p) for p in ci_files()]
    with ThreadPoolExecutor(max_workers=2) as pool:
        list(pool.map(lambda v: h.template(v), warm))
    return h


@pytest.fixture(scope="session")
def istio() -> IstioHarness:
    """Istio's own webhook, analyzers and xDS simulation (tests/istio); a missing binary fails."""
    h = IstioHarness.from_env()
    _SESSION["istio"] = h
    return h


@pytest.fixture(scope="session")
def default_render(helm):
    return helm.render()


def pytest_report_header(config):
    try:
        binary, version = find_helm()
        return f"helm: {binary} (v{'.'.join(map(str, version))})"
    except Exception as e:  # the suite will fail loudly in the fixture
        return f"helm: not found ({e})"


def pytest_terminal_summary(terminalreporter):
    if _SESSION.get("istio"):
        terminalreporter.write_line(_SESSION["istio"].summary())
    h = _SESSION.get("helm")
    v = _SESSION.get("validator")
    if not h:
        return
    docs = getattr(v, "documents_validated", h.documents_validated)
    terminalreporter.write_line(
        f"grpc-ingress summary: helm v{'.'.join(map(str, h.version))}; {docs} documents validated; "
        f"{h.distinct_renders} distinct renders; {h.processes} helm processes; "
        f"{STATS['bad_input_cases']} bad-input cases; {STATS['hypothesis_examples']} hypothesis examples"
    )

