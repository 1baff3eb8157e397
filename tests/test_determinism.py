"""Rendering is a pure function of the values: the same values give the same bytes, the
templates call nothing random, time- or cluster-dependent, and the order in which a values
file lists the keys of a map does not leak into the output."""
from __future__ import annotations

import json
import os
import random
import re
import tempfile
from pathlib import Path

import pytest

from support.scenarios import ci_files, load_ci
from support.helm import ROOT

TEMPLATES = ROOT / "templates"
REPEATS = 2  # fresh helm processes compared with the first render


def template_fresh(helm, values, release="grpc-ingress", namespace="default") -> str:
    """helm template in a new process, with the values written exactly as json.dumps orders
    them (no render cache, no key sorting)."""
    args = ["template", release, str(ROOT), "--namespace", namespace]
    path = None
    if values is not None:
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
            f.write(json.dumps(values))
        path = f.name
        args += ["-f", path]
    try:
        proc = helm.run(args)
    finally:
        if path:
            os.unlink(path)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def fifty_routes() -> dict:
    """A 50-route values set using every route feature: services, single methods (also of
    services other routes serve), mixed routes, raw prefixes and regexes, streaming routes,
    timeouts, retries, weighted canaries with subsets, per-route traffic policies, and a
    catch-all."""
    routes = []
    for i in range(49):
        r = {"name": "route-%02d" % i, "backend": {"host": "svc-%d" % (i % 7), "port": 50051 + i % 3}}
        kind = i % 6
        if kind == 0:
            r.update(services=["shop.v%d.Orders" % i, "shop.v%d.Carts" % i], timeout="%ds" % (i + 1),
                     retries={"attempts": 3, "perTryTimeout": "500ms", "retryOn": "unavailable,503"})
        elif kind == 1:
            r.update(methods=["shop.v%d.Orders/Export" % (i - 1), "misc.v%d.Tool/Run" % i])
        elif kind == 2:
            r.update(services=["chat.v%d.Chat" % i], methods=["chat.v%d.Chat/Subscribe" % i], streaming=True)
        elif kind == 3:
            r.update(prefix="/legacy%d/" % i, retries={"attempts": 0})
        elif kind == 4:
            r.update(regex="/re%d\\.Svc/(Get|List)" % i)
        else:
            host = "canary-%d" % i
            r.pop("backend")
            r.update(services=["greet.v%d.Greeter" % i], trafficPolicy={"maxRequestsPerConnection": i}, backends=[
                {"host": host, "port": 50051, "subset": "stable", "subsetLabels": {"version": "v1", "track": "stable"}, "weight": 90},
                {"host": host, "port": 50051, "subset": "canary", "subsetLabels": {"version": "v2", "track": "canary"}, "weight": 10}])
        routes.append(r)
    routes.append({"name": "fallback", "backend": {"host": "svc-0", "port": 50051}})
    return {
        "hosts": ["grpc.example.com", "*.api.example.com"],
        "commonLabels": {"team": "payments", "tier": "edge"},
        "trafficPolicy": {"loadBalancer": "LEAST_REQUEST", "connectTimeout": "2s"},
        "streaming": {"idleTimeout": "2h", "tcpKeepalive": {"time": "60s", "interval": "15s", "probes": 4}},
        "grpcWeb": {"enabled": True, "cors": {"allowOrigins": ["https://app.example.com"], "allowHeaders": ["authorization"]}},
        "routes": routes,
    }


CASES = {"defaults": None, **{p.name: load_ci(p) for p in ci_files()}, "routes-50": fifty_routes()}


def test_every_ci_file_is_a_case():
    assert len(CASES) == len(ci_files()) + 2 and len(ci_files()) >= 10


@pytest.mark.parametrize("name", sorted(CASES))
def test_the_same_values_render_byte_identical_output(helm, name):
    values = CASES[name]
    first = helm.render(values).stdout  # cached and validated
    assert first.strip(), "nothing rendered"
    for _ in range(REPEATS):
        assert template_fresh(helm, values) == first, "a second render of the same values differs"


# --- no randomness, time or cluster lookups in the templates ------------------------------

# Sprig/Helm functions whose result is not a function of the values: random data, the
# clock, the cluster, the environment, random salts or IVs.
NONDETERMINISTIC = [
    "randAlphaNum", "randAlpha", "randNumeric", "randAscii", "randBytes", "randInt", "shuffle", "uuidv4",
    "now", "date", "dateInZone", "date_in_zone", "dateModify", "date_modify", "mustDateModify", "unixEpoch", "ago",
    "htmlDate", "htmlDateInZone", "lookup", "getHostByName", "env", "expandenv",
    "genCA", "genCAWithKey", "genSelfSignedCert", "genSelfSignedCertWithKey", "genSignedCert", "genSignedCertWithKey",
    "genPrivateKey", "buildCustomCert", "htpasswd", "bcrypt", "encryptAES",
]
_COMMENT = re.compile(r"\{\{-?\s*/\*.*?\*/\s*-?\}\}", re.S)
_ACTION = re.compile(r"\{\{(.*?)\}\}", re.S)
_STRING = re.compile(r'"(?:\\.|[^"\\])*"|`[^`]*`')
_CALL = re.compile(r"(?<![\w.$])(%s)(?![\w])" % "|".join(NONDETERMINISTIC))


def nondeterministic_calls(text: str) -> list[str]:
    """Function names from NONDETERMINISTIC used in template actions (comments, string
    literals and fields like .Values.now do not count)."""
    found = []
    for action in _ACTION.findall(_COMMENT.sub("", text)):
        found += _CALL.findall(_STRING.sub('""', action))
    return found


def test_the_scanner_finds_planted_calls_and_ignores_look_alikes():
    planted = '{{ randAlphaNum 8 }} {{- now | date "2006" -}} {{ lookup "v1" "Secret" "ns" "n" }}\n{{ uuidv4 }}'
    assert nondeterministic_calls(planted) == ["randAlphaNum", "now", "date", "lookup", "uuidv4"]
    harmless = '{{/* now, lookup */}} {{ .Values.now }} {{ "uuidv4" }} {{ $date := 1 }} {{ include "x.lookup" . }} now'
    assert nondeterministic_calls(harmless) == []


def test_templates_call_nothing_nondeterministic():
    files = sorted(p for p in TEMPLATES.rglob("*") if p.is_file())
    assert any(p.name == "_helpers.tpl" for p in files) and len(files) >= 8
    found = {str(p.relative_to(ROOT)): calls for p in files if (calls := nondeterministic_calls(p.read_text()))}
    assert found == {}, "templates call functions whose result is not a function of the values: %s" % found


# --- map key order ------------------------------------------------------------------------

def reorder(node, rnd: random.Random | None = None):
    """The same values with every map's keys in another order (reversed, or shuffled);
    lists keep their order, which means something."""
    if isinstance(node, dict):
        keys = list(node)
        if rnd is None:
            keys.reverse()
        else:
            rnd.shuffle(keys)
        return {k: reorder(node[k], rnd) for k in keys}
    if isinstance(node, list):
        return [reorder(v, rnd) for v in node]
    return node


MANY_MAPS = {
    "commonLabels": {"team": "payments", "tier": "edge", "example.com/owner": "platform", "a": "1", "z": "2"},
    "commonAnnotations": {"example.com/runbook": "https://runbooks.example.com/grpc", "note": "x", "b": "y", "a": "z"},
    "hosts": ["a.example.com", "b.example.com", "c.example.com"],
    "gateway": {"selector": {"istio": "ingressgateway", "app": "edge-gateway", "zone": "a"}, "create": True},
    "tls": {"mode": "MUTUAL", "externalCA": True, "subjectAltNames": ["spiffe://example.com/client"],
            "hosts": [{"credentialName": "a-tls", "hosts": ["a.example.com"]}],
            "certManager": {"enabled": True, "issuerRef": {"name": "ca", "kind": "Issuer"}, "duration": "2160h",
                            "renewBefore": "360h"}, "credentialName": "",
            "httpsRedirect": True, "redirectPort": 80},
    "h2c": {"port": 8080, "enabled": True},
    "grpcWeb": {"enabled": True, "cors": {"maxAge": "1h", "allowCredentials": True, "exposeHeaders": ["x-request-id"],
                                          "allowHeaders": ["authorization", "x-trace"],
                                          "allowOrigins": ["https://app.example.com", {"prefix": "https://preview-"}]}},
    "trafficPolicy": {"loadBalancer": "LEAST_REQUEST", "idleTimeout": "5m", "connectTimeout": "2s",
                      "tcpKeepalive": {"time": "60s", "probes": 4, "interval": "15s"}, "maxRequestsPerConnection": 100},
    "streaming": {"tcpKeepalive": {"probes": 3, "time": "30s"}, "idleTimeout": "5m"},
    "retries": {"unary": {"retryOn": "unavailable,cancelled", "attempts": 3, "perTryTimeout": "2s"}},
    "routes": [
        {"services": ["shop.v1.Orders"], "name": "orders", "timeout": "5s", "backend": {"port": 50051, "host": "orders"},
         "trafficPolicy": {"http2MaxRequests": 10, "h2Upgrade": True}},
        {"name": "chat", "streaming": True, "services": ["chat.v1.Chat"], "backends": [
            {"weight": 80, "subset": "stable", "port": 50051, "host": "chat", "subsetLabels": {"version": "v1", "track": "stable", "app": "chat"}},
            {"subsetLabels": {"app": "chat", "track": "canary", "version": "v2"}, "host": "chat", "port": 50051, "subset": "canary", "weight": 20}]},
        {"methods": ["shop.v1.Orders/Export", "misc.v1.Tool/Run"], "name": "export", "backend": {"host": "exporter.batch.svc.cluster.local", "port": 9090}},
        {"backend": {"port": 50051, "host": "fallback"}, "name": "fallback"},
    ],
    "backendServices": [{"selector": {"app": "orders", "tier": "api"}, "name": "orders", "port": 50051, "targetPort": 9090,
                         "appProtocol": "grpc", "portName": "grpc-orders"}],
}


@pytest.mark.parametrize("order", ["reversed", "shuffled-1", "shuffled-2"])
def test_map_key_order_in_the_values_does_not_leak(helm, order):
    reordered = reorder(MANY_MAPS, None if order == "reversed" else random.Random(order))
    assert reordered == MANY_MAPS
    assert json.dumps(reordered) != json.dumps(MANY_MAPS), "the reordered values must be written differently"
    expected = helm.render(MANY_MAPS).stdout  # also proves these values are valid
    assert template_fresh(helm, reordered) == expected
