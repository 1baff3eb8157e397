"""Every values set the chart accepts, asked of Istio's own control plane (the harness in
tests/istio): the property run's random values sets (support.strategies), each render sent once
per stock gateway install that binds it differently, with the calls its values imply
(support.istio_promises, which reads every expectation from the values, never the render).

The feature properties that ask Istio live with their feature (routing, streaming, gRPC-Web);
here: Istio admits and analyses every render, and every listener the values ask for answers.
"""
from __future__ import annotations

import copy
import json

from support.istio_promises import ISSUE_10_KNOWN, KNOWN_BUGS, UNFILED_KNOWN, Plan, seconds
from support.properties import EXAMPLES, for_every_valid_values_set_in_istio


@for_every_valid_values_set_in_istio
def test_istio_admits_every_object_and_builds_valid_xds(case):
    """Istio's validating webhook admits every istio.io object of the render, and the gateway's
    xDS passes Istio's own checks (what the hand-written webhook rules used to approximate)."""
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
    disappear, its entry in support.istio_promises (ISSUE_10_KNOWN, UNFILED_KNOWN) has to go, the
    way a strict xfail turns into a failure."""
    generated.check_istio(istio)
    seen = {p.known for c in generated.rendered() for i in c.installs() for p in c.problems(i) if p.known}
    assert set(KNOWN_BUGS) == set(ISSUE_10_KNOWN) | set(UNFILED_KNOWN)
    if EXAMPLES < 200:
        return  # fewer examples than the default run may simply not draw one
    assert set(KNOWN_BUGS) - seen == set(), "fixed? remove their entries from support.istio_promises"


def test_a_render_of_other_values_breaks_the_promises(generated, istio):
    """The promises can fail: a values set's plan, checked against the render of the same values
    with every backend port moved and every timeout doubled, finds broken promises."""
    generated.check_istio(istio)
    case = next(c for c in generated.rendered() if c.values["gateway"]["create"] and c.values["tls"]["enabled"]
                and any(not r.get("streaming") and r.get("timeout") for r in c.values["routes"]))
    other = copy.deepcopy(case.values)
    for r in other["routes"]:
        for t in r.get("backends") or [r["backend"]]:
            t["port"] = t["port"] % 65535 + 1
        if r.get("timeout"):
            r["timeout"] = "%dms" % (seconds(r["timeout"]) * 2000)
    render = generated.helm.render(other, release=case.release, namespace=case.namespace)
    plan = Plan(case.values, case.release, case.namespace)
    res = istio.run([dict(plan.case(render), fixtures=plan.case(case.render)["fixtures"])])[0]
    concerns = {p.concern for p in plan.broken(res) if p.known is None}
    assert {"routing", "timeouts"} <= concerns, json.dumps(case.values)
