"""Bad edits of valid values: helpers a mutation uses to make a values set invalid for exactly one
reason (fresh names, a route appended, the Gateway or TLS switched on), and assert_refused()."""
from __future__ import annotations

import json
import re

import pytest

from support.helm import ROOT, normalize_paths


SCHEMA = json.loads((ROOT / "values.schema.json").read_text())


def path_re(*parts) -> str:
    """A key path as it appears in a normalised error (routes.0.timeout), not as a prefix of
    a longer segment (routes.1 does not match routes.10)."""
    return r"(?<![\w.])" + re.escape(".".join(str(p) for p in parts)) + r"(?!\w)"

def key_re(key: str) -> str:
    return r"(?<!\w)" + re.escape(key) + r"(?!\w)"

def _sub_schema(schema, key):
    if key in schema.get("properties", {}):
        return schema["properties"][key]
    for pattern, sub in schema.get("patternProperties", {}).items():
        if isinstance(key, str) and re.search(pattern, key):
            return sub
    extra = schema.get("additionalProperties")
    return extra if isinstance(extra, dict) else None

def walk(value, schema, path=()):
    """(path, value, schema) for every node the schema describes directly (not via anyOf)."""
    yield path, value, schema
    if isinstance(value, dict):
        for k, sub in value.items():
            s = _sub_schema(schema, k)
            if s is not None:
                yield from walk(sub, s, path + (k,))
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        for i, item in enumerate(value):
            yield from walk(item, schema["items"], path + (i,))

def get_at(v, path):
    for p in path:
        v = v[p]
    return v

def named_path(path):
    """The part of a path an error can name the same way in Helm 3 and 4: Helm 4 writes a
    key with '/' as '~1' (JSON pointer), so stop before such a key."""
    out = []
    for p in path:
        if isinstance(p, str) and ("/" in p or "~" in p):
            break
        out.append(p)
    return out

def routes_of(v):
    return v["routes"]

def fresh(v, prefix):
    """A name no route uses yet."""
    names = {r["name"] for r in v["routes"]}
    i = 0
    while "%s%d" % (prefix, i) in names:
        i += 1
    return "%s%d" % (prefix, i)

def fresh_service(v, tag):
    return "mut%s.Fresh%d" % (tag, len(v["routes"]))

def new_route(v, **kw):
    """Append a route (a catch-all unless kw adds matches); returns its index."""
    r = {"name": fresh(v, "mut"), "backend": {"host": "mutation-target", "port": 50051}}
    r.update(kw)
    v["routes"].append(r)
    return len(v["routes"]) - 1

def used_ports(v):
    tls, h2c = v.get("tls", {}), v.get("h2c", {})
    ports = set()
    if tls.get("enabled", True):
        ports.add(tls.get("port", 443))
        if tls.get("httpsRedirect"):
            ports.add(tls.get("redirectPort", 80))
    if h2c.get("enabled"):
        ports.add(h2c.get("port", 80))
    return ports

def free_port(v):
    return next(p for p in range(18080, 18100) if p not in used_ports(v))

def own_gateway(v):
    """Make the chart render its Gateway (the rules below only apply then)."""
    v["gateway"]["create"] = True
    v["gateway"].pop("ref", None)

def enable_tls(v):
    """Turn the HTTPS server on (a valid one) if it is off."""
    tls = v.setdefault("tls", {})
    if not tls.get("enabled", True):
        tls.update(enabled=True, credentialName="mutation-tls")
        for k in ("mode", "hosts", "httpsRedirect"):
            tls.pop(k, None)
        h2c = v.get("h2c", {})
        if h2c.get("enabled") and h2c.get("port", 80) == tls.get("port", 443):
            h2c["port"] = next(p for p in range(18100, 18200) if p not in used_ports(v))

def keep_client_ca(v):
    """After replacing tls.secret: MUTUAL modes still need a client CA source."""
    if v["tls"].get("mode", "SIMPLE") != "SIMPLE":
        v["tls"]["externalCA"] = True

def assert_refused(helm, values, patterns, release, namespace):
    rc, out, err, docs, _ = helm.template(values, release=release, namespace=namespace)
    assert rc != 0, "helm rendered %d documents for invalid values:\n%s" % (len(docs or []), json.dumps(values)[:2000])
    assert docs is None and not out.strip(), "a failed render must print no manifests"
    text = normalize_paths(err)
    for p in patterns:
        assert re.search(p, text), "error does not name %r:\n%s" % (p, err)

# A fixed valid values set touching every feature, for one deterministic run of each mutation.
BASE = {
    "commonLabels": {"team": "payments"},
    "commonAnnotations": {"example.com/owner": "platform"},
    "hosts": ["grpc.example.com", "*.api.example.com"],
    "gateway": {"create": True, "selector": {"istio": "ingressgateway"}},
    "tls": {"enabled": True, "port": 443, "mode": "SIMPLE", "credentialName": "grpc-tls", "httpsRedirect": True,
            "redirectPort": 80},
    "h2c": {"enabled": True, "port": 8080},
    "grpcWeb": {"enabled": True, "cors": {"allowOrigins": ["https://app.example.com"], "maxAge": "1h",
                                          "allowHeaders": ["authorization"]}},
    "trafficPolicy": {"loadBalancer": "LEAST_REQUEST"},
    "streaming": {"idleTimeout": "2h"},
    "retries": {"unary": {"attempts": 3}},
    "routes": [
        {"name": "orders", "services": ["shop.v1.Orders"], "methods": ["shop.v1.Orders/Create"],
         "backend": {"host": "orders", "port": 50051}, "timeout": "5s",
         "retries": {"attempts": 3, "perTryTimeout": "2s", "retryOn": "unavailable"}},
        {"name": "export", "methods": ["shop.v1.Orders/Export"],
         "backend": {"host": "exporter.batch.svc.cluster.local", "port": 9090},
         "trafficPolicy": {"maxRequestsPerConnection": 100}},
        {"name": "chat", "services": ["chat.v1.Chat"], "streaming": True, "backends": [
            {"host": "chat", "port": 50051, "subset": "stable", "subsetLabels": {"version": "v1"}, "weight": 90},
            {"host": "chat", "port": 50051, "subset": "canary", "subsetLabels": {"version": "v2"}, "weight": 10}]},
        {"name": "legacy", "prefix": "/legacy/", "backend": {"host": "legacy", "port": 8080}},
        {"name": "fallback", "backend": {"host": "orders", "port": 50051}},
    ],
    "backendServices": [{"name": "orders", "selector": {"app": "orders"}, "port": 50051, "targetPort": 9090}],
}

class Quiet:
    """The session helm behind a short repr: hypothesis prints every argument of a failing
    example, and the Helm dataclass would print its whole render cache."""

    def __init__(self, helm):
        self.helm = helm

    def __repr__(self):
        return "<helm>"

@pytest.fixture(scope="module")
def quiet_helm(helm):
    return Quiet(helm)
