"""Every values set the chart accepts, asked of Istio's own control plane (the harness in
tests/istio): the property run's random values sets (support.strategies), each render sent once
per stock gateway install that binds it differently, with the calls its values imply
(support.istio_promises, which reads every expectation from the values, never the render).

The feature properties that ask Istio live with their feature (routing, streaming, gRPC-Web);
here: Istio admits and analyses every render, and every listener the values ask for answers;
and valid values right beside the bad-input tables' rows do everything they say.
"""
from __future__ import annotations

import copy
import json

import pytest

from support.istio_promises import CONCERNS, KNOWN_BUGS, Plan, seconds
from support.properties import EXAMPLES, Case, for_every_valid_values_set_in_istio
from support.strategies import RETRY_TOKENS


@for_every_valid_values_set_in_istio
def test_istio_admits_every_object_and_builds_valid_xds(case):
    """Istio's validating webhook admits every istio.io object of the render (nulls, range
    edges and RE2 edge cases of the property run included: accepted means it applies), and the
    gateway's xDS passes Istio's own checks. (Every render of every test also goes through the
    webhook in the validator: support/validators/istio_webhook.py.)"""
    assert case.unkept("admission") == []


@for_every_valid_values_set_in_istio
def test_istioctl_analyze_has_nothing_to_warn_about(case):
    """No analyzer message of level Warning or Error, but the one every EnvoyFilter draws
    (support.istio_checks.accepted) and the known bugs of support.istio_promises.KNOWN_BUGS."""
    assert case.unkept("analysis") == []


@for_every_valid_values_set_in_istio
def test_every_listener_the_values_ask_for_answers_every_host(case):
    """The HTTPS, h2c and plaintext gRPC-Web servers each serve every host (HTTPS with the
    certificate, minimum TLS version and client-certificate mode the values name, offering h2),
    and the HTTPS redirect answers 301."""
    assert case.unkept("listeners", "tls") == []


def test_known_bugs_still_show(generated, istio):
    """Each tolerated known bug still shows up somewhere in the property run: once a fix makes one
    disappear, its entry in support.istio_promises.KNOWN_BUGS has to go, the way a strict xfail
    turns into a failure. (Issue 10 emptied it.)"""
    generated.check_istio(istio)
    seen = {p.known for c in generated.rendered() for p in c.problems() if p.known}
    assert seen <= set(KNOWN_BUGS), "a Problem names a known bug KNOWN_BUGS does not list"
    if EXAMPLES < 200:
        return  # fewer examples than the default run may simply not draw one
    assert set(KNOWN_BUGS) - seen == set(), "fixed? remove their entries from support.istio_promises"


def test_a_render_of_other_values_breaks_the_promises(generated, istio):
    """The promises can fail: a values set's plan, checked against the render of the same values
    with every backend port moved and every timeout a millisecond off, finds broken promises."""
    generated.check_istio(istio)
    case = next(c for c in generated.rendered() if c.values["gateway"]["create"] and c.values["tls"]["enabled"]
                and any(not r.get("streaming") and r.get("timeout") for r in c.values["routes"]))
    other = copy.deepcopy(case.values)
    for r in other["routes"]:
        for t in r.get("backends") or [r["backend"]]:
            t["port"] = t["port"] % 65535 + 1
        if r.get("timeout"):
            ms = round(seconds(r["timeout"]) * 1000)
            r["timeout"] = "%dms" % (ms - 1 if ms > 1 else 2)
    render = generated.helm.render(other, release=case.release, namespace=case.namespace)
    plan = Plan(case.values, case.release, case.namespace, case.facts)
    res = istio.run([dict(plan.case(render), fixtures=plan.case(case.render)["fixtures"])])[0]
    concerns = {p.concern for p in plan.broken(res) if p.known is None}
    assert {"routing", "timeouts"} <= concerns, json.dumps(case.values)


# --- near misses of the bad-input tables: valid values at the edge, asked of Istio ---------------

def _r(**kw):
    return {"name": "r", "services": ["pkg.Svc"], "backend": {"host": "svc", "port": 50051}, **kw}


NEAR_MISSES = {
    # a timeout of exactly 1ms (timeout-0s and timeout-sub-ms are refused)
    "timeout-1ms": {"routes": [_r(timeout="1ms")]},
    "per-try-timeout-1ms": {"routes": [_r(retries={"attempts": 10, "perTryTimeout": "1ms"})]},
    # status codes alone (retry-on-unknown-status-code is refused): Istio writes ",retriable-status-codes"
    "retry-on-codes-only": {"routes": [_r(retries={"attempts": 1, "retryOn": "410,418"})]},
    "retry-on-every-name": {"routes": [_r(retries={"attempts": 3, "retryOn": ",".join(RETRY_TOKENS)})]},
    "streaming-retries-off": {"routes": [_r(streaming=True, retries={"attempts": 0})]},
    # weights at the edge (weights-not-100 and weights-all-zero are refused)
    "weights-0-100": {"routes": [{"name": "r", "backends": [{"host": "a", "port": 1, "weight": 0},
                                                             {"host": "b", "port": 65535, "weight": 100}]}]},
    "weights-1-99": {"routes": [{"name": "r", "backends": [{"host": "a", "port": 1, "weight": 1},
                                                            {"host": "b", "port": 1, "weight": 99}]}]},
    "cors-edges": {"grpcWeb": {"enabled": True, "cors": {"allowOrigins": [{"regex": "https://[a-z]+\\.example\\.com"},
                                                                         {"prefix": "https://x"}], "maxAge": "1s"}}},
    "tls-1.3-only": {"tls": {"minProtocolVersion": "TLSV1_3", "maxProtocolVersion": "TLSV1_3"}},
    "wildcard-host-own-certificate": {"hosts": ["grpc.example.com", "*.a.example.org"],
                                      "tls": {"hosts": [{"hosts": ["*.a.example.org"], "credentialName": "a-tls"}]}},
    "wildcard-host-covering-another": {"hosts": ["api.example.com", "*.example.com"]},
    "covered-host-with-its-own-certificate": {"hosts": ["*.example.com", "api.example.com"],
                                              "tls": {"hosts": [{"hosts": ["api.example.com"],
                                                                 "credentialName": "api-tls"}]}},
}

# Near misses the chart once got wrong, kept as reasons while one is open: name -> reason.
# (wildcard-host-covering-another: Istio's webhook refused the VirtualService, "duplicate hosts
# in virtual service"; the chart now writes the covering host only, model.routeHosts.)
NEAR_MISS_BUGS: dict[str, str] = {}


@pytest.fixture(scope="module")
def near_misses(helm, istio):
    cases = {}
    for name, values in NEAR_MISSES.items():
        try:
            cases[name] = Case(values, "grpc-ingress", "default", {}, render=helm.render(values), istio=istio)
        except AssertionError as e:  # refused by a validator (Istio's webhook among them): the test says so
            cases[name] = e
    istio.run([c.istio_case() for c in cases.values() if isinstance(c, Case)])
    return cases


@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.xfail(strict=True, reason=NEAR_MISS_BUGS[n]))
                                  if n in NEAR_MISS_BUGS else n for n in NEAR_MISSES])
def test_near_miss_values_do_in_istio_what_they_say(near_misses, name):
    """Valid values right beside the bad-input tables' rows: the render passes the validators
    (Istio's webhook among them), Istio analyses it quietly, and every call does what the values
    say."""
    case = near_misses[name]
    if isinstance(case, AssertionError):
        raise case
    assert case.unkept(*CONCERNS) == []
