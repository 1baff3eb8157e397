"""The fixtures every feature spec can ask for (session-wide: one helm, one validator, one
render cache for the whole run):

  helm            support.helm.Helm: helm.render(values) -> parsed, validated documents;
                  helm.render_fails(values, match=[...]); helm.template / helm.run for the rest
  default_render  the chart rendered with no values
  validator       support.validators.ManifestValidator, which helm runs on every render
  generated       the hypothesis run behind @for_every_valid_values_set and
                  @for_every_valid_values_set_in_istio (support.properties)
  istio           support.istio.IstioHarness: Istio's webhook, analyzers and xDS simulation
  mutation_bases  generated valid values sets that bad edits start from (support.mutations)
  injected        the renders behind the injection cases (support.injection)

Every successful render is validated (core kinds with kubernetes-validate, custom
resources with the @kubernetes-models validators plus the API-server rules in
tests/support/validators), so no test has to remember to call a validator.
"""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from support.helm import Helm, find_helm
from support.scenarios import ci_files, load_ci
from support.summary import STATS
from support.validators import ManifestValidator

from support.istio import IstioHarness

_SESSION: dict = {}


@pytest.fixture(scope="session")
def validator():
    v = ManifestValidator()
    _SESSION["validator"] = v
    yield v
    v.close()


@pytest.fixture(scope="session")
def helm(validator, request) -> Helm:
    binary, version = find_helm()
    h = Helm(binary=binary, version=version, validate=validator.validate)
    _SESSION["helm"] = h
    # Warm the cache with the renders most tests read, two at a time (2 cores).
    warm = [None] + [load_ci(p) for p in ci_files()]
    with ThreadPoolExecutor(max_workers=2) as pool:
        list(pool.map(lambda v: h.template(v), warm))
    # The bad-values rows the schema refuses: dozens per helm process (Helm.prefetch_refusals).
    h.prefetch_refusals(item.callspec.params["values"] for item in request.session.items
                        if item.get_closest_marker("bad_input") and hasattr(item, "callspec")
                        and isinstance(item.callspec.params.get("values"), dict))
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


@pytest.fixture(scope="session")
def generated(helm, request):
    from support.properties import Generated
    g = Generated(helm)
    if any(getattr(getattr(item, "function", None), "istio_property", False) for item in request.session.items):
        g.start_istio(request.getfixturevalue("istio"))  # in the background, while other tests run
    return g


@pytest.fixture(scope="session")
def injected(helm, request):
    from support.injection import Injected
    return Injected(helm, request.session.items)


@pytest.fixture(scope="session")
def mutation_bases(helm, request):
    from support.mutations import draw_bases, prefetch_edits
    bases = draw_bases(helm)
    prefetch_edits(helm, {item.callspec.params["mutation"] for item in request.session.items
                          if "mutation_bases" in getattr(item, "fixturenames", ()) and hasattr(item, "callspec")
                          and "mutation" in item.callspec.params}, bases)
    return bases


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
        f"{h.distinct_renders} distinct renders ({h.batched_refusals} schema refusals answered in batches); "
        f"{h.processes} helm processes; "
        f"{STATS['bad_input_cases']} bad-input cases; {STATS['hypothesis_examples']} hypothesis examples"
    )

