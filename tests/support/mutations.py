"""Bad edits of valid values. A feature spec writes a mutation: a function that edits a valid
values set so that it is invalid for exactly one reason and returns the regexes the error must
contain (key paths as path_re("routes", 0, "timeout") writes them). Then

    @pytest.mark.parametrize("mutation", edits(m_zero_timeout, m_timeout_on_stream))
    def test_bad_edits_of_valid_values_are_refused_naming_the_key(helm, mutation_bases, mutation):
        assert_edits_refused(helm, mutation, mutation_bases)

applies each mutation to HYPOTHESIS_MUTATIONS (default 3) of the generated values sets in
conftest's `mutation_bases` (support.strategies.valid_cases, each checked to render first).
The helpers below (fresh names, a route appended, the Gateway or TLS switched on) give a
mutation the context it needs whatever values set it starts from.
"""
from __future__ import annotations

import copy
import json
import os
import random
import re
import zlib
from concurrent.futures import ThreadPoolExecutor

import pytest
from hypothesis import HealthCheck, Phase, given, seed, settings

from support.helm import ROOT, normalize_paths
from support.strategies import STOCK_SERVICE_PORTS, valid_cases, without_nulls
from support.summary import count

SCHEMA = json.loads((ROOT / "values.schema.json").read_text())


def path_re(*parts) -> str:
    """A key path as it appears in a normalised error (routes.0.timeout), not as a prefix of
    a longer segment (routes.1 does not match routes.10)."""
    return r"(?<![\w.])" + re.escape(".".join(str(p) for p in parts)) + r"(?!\w)"


def key_re(key: str) -> str:
    return r"(?<!\w)" + re.escape(key) + r"(?!\w)"


def resolve(schema):
    """A schema node with its local $ref ("#/definitions/duration") followed, so that shared
    definitions are walked like inline ones."""
    while isinstance(schema, dict) and str(schema.get("$ref", "")).startswith("#/"):
        target = SCHEMA
        for part in schema["$ref"][2:].split("/"):
            target = target[part.replace("~1", "/").replace("~0", "~")]
        schema = {**target, **{k: v for k, v in schema.items() if k != "$ref"}}
    return schema


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
    schema = resolve(schema)
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
    tls, h2c, web = v.get("tls", {}), v.get("h2c", {}), v.get("grpcWeb", {})
    ports = set()
    if tls.get("enabled", True):
        ports.add(tls.get("port", 443))
        if tls.get("httpsRedirect"):
            ports.add(tls.get("redirectPort", 80))
    if h2c.get("enabled"):
        ports.add(h2c.get("port", 80))
    if web.get("enabled") and not tls.get("enabled", True):
        ports.add(web.get("port", 80))
    return ports


def free_port(v):
    """A gateway Service port no listener binds yet, for a listener an edit adds: the values
    move to a custom install whose Service has the stock install's ports plus this one (with
    a targetPort of its own), so the edit adds no second reason to refuse them."""
    gw = v.setdefault("gateway", {})
    install = gw.get("install", "istioctl")
    if install != "custom":
        gw["install"] = "custom"
        gw["servicePorts"] = {str(p): t for p, t in STOCK_SERVICE_PORTS[install].items()}
        gw.setdefault("selector", {"istio": "ingressgateway"})
        gw.setdefault("workloadNamespace", "istio-system")
        v.setdefault("tests", {}).setdefault("gatewayAddress", "gateway.istio-system.svc")
    service_ports = gw["servicePorts"]
    port = next(p for p in range(18080, 18200) if str(p) not in service_ports and p not in used_ports(v))
    binds = set(service_ports.values())
    service_ports[str(port)] = next(t for t in range(28080, 28200) if t not in binds)
    return port


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
        # The HTTPS server gets a port of its own: the other listeners may hold both stock ports.
        tls["port"] = free_port(v)


def keep_client_ca(v):
    """After replacing tls.secret: MUTUAL modes still need a client CA source."""
    if v["tls"].get("mode", "SIMPLE") != "SIMPLE":
        v["tls"]["externalCA"] = True


def _assert_refused(helm, values, patterns, release, namespace):
    """helm refuses values, prints nothing, and its error matches every pattern."""
    rc, out, err, docs, _ = helm.template(values, release=release, namespace=namespace)
    assert rc != 0, "helm rendered %d documents for invalid values:\n%s" % (len(docs or []), json.dumps(values)[:2000])
    assert docs is None and not out.strip(), "a failed render must print no manifests"
    text = normalize_paths(err)
    for p in patterns:
        assert re.search(p, text), "error does not name %r:\n%s" % (p, err)


# --- running the edits ----------------------------------------------------------------------

PER_EDIT = int(os.environ.get("HYPOTHESIS_MUTATIONS", "3"))  # generated values sets each edit is applied to
POOL = max(12, 4 * PER_EDIT)  # drawn once per session; each edit takes PER_EDIT of them


def draw_bases(helm, n: int = POOL) -> list[tuple]:
    """n generated valid cases (values, release, namespace, facts), each rendered once to
    prove it valid: an edit can only show that a rule fires if the values were valid before."""
    drawn = []

    @settings(max_examples=n, deadline=None, database=None, phases=[Phase.generate],
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @seed(20260802)
    @given(case=valid_cases(max_routes=4))
    def collect(case):
        values, release, namespace, facts = case
        drawn.append((without_nulls(values), release, namespace, facts))  # edits need the maps as dicts

    collect()
    with ThreadPoolExecutor(max_workers=2) as pool:
        list(pool.map(lambda c: helm.render(c[0], release=c[1], namespace=c[2]), drawn))
    return drawn


def edits(*mutations) -> list:
    """pytest params for mutations, named without their m_ prefix."""
    return [pytest.param(m, id=m.__name__.removeprefix("m_"), marks=pytest.mark.bad_input) for m in mutations]


def edited(mutation, bases):
    """(k, values, release, namespace, patterns): the mutation applied to PER_EDIT of the bases
    (which ones depends on its name), each with its own seeded random choices."""
    start = zlib.crc32(mutation.__name__.encode())
    for k in range(PER_EDIT):
        values, release, namespace, _ = copy.deepcopy(bases[(start + k * len(bases) // PER_EDIT) % len(bases)])
        patterns = mutation(values, random.Random(f"{mutation.__name__}-{k}"))
        yield k, values, release, namespace, patterns


def prefetch_edits(helm, mutations, bases) -> None:
    """Render the edits the schema refuses ahead of their tests, many per helm process
    (Helm.prefetch_refusals; one batch per base, as each has its release and namespace)."""
    by_base: dict[tuple, list] = {}
    for m in mutations:
        try:
            for _, values, release, namespace, _ in edited(m, bases):
                by_base.setdefault((release, namespace), []).append(values)
        except Exception:  # the edit's own test reports it
            continue
    for (release, namespace), values_sets in by_base.items():
        helm.prefetch_refusals(values_sets, release=release, namespace=namespace)


def assert_edits_refused(helm, mutation, bases) -> None:
    """The mutation applied to PER_EDIT of the bases (see edited): every result is refused,
    naming the key."""
    for k, values, release, namespace, patterns in edited(mutation, bases):
        count("bad_input_cases")
        count("hypothesis_examples")
        try:
            _assert_refused(helm, values, patterns, release, namespace)
        except AssertionError as e:
            raise AssertionError(f"{e}\nedit {mutation.__name__} of generated values set {k} (release {release}, "
                                 f"namespace {namespace}):\n{json.dumps(values, indent=1)}") from None
