"""Property tests (hypothesis).

1. Every values set drawn from the space values.schema.json describes and the templates
   accept renders (so every document passes every validator: conftest installs them), and
   the routing promises hold: each route's services and methods reach that route's
   destinations, no streaming route carries a timeout, every name fits in 63 characters,
   Gateway server port names are unique.
2. Known-invalid mutations of such values sets are refused by helm, nothing is rendered,
   and the error names the mutated key.

CI is deterministic (derandomize=True, no example database). HYPOTHESIS_EXAMPLES sets the
number of valid examples (default 200), HYPOTHESIS_MUTATIONS the number of mutated ones
(default 120, spread evenly over the mutation kinds).
"""
from __future__ import annotations

import copy
import json
import os
import random
import re
from collections import Counter

import pytest
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st

from conftest import STATS
from helm import ROOT, normalize_paths
from routing import backends_for, route_for

SCHEMA = json.loads((ROOT / "values.schema.json").read_text())

EXAMPLES = int(os.environ.get("HYPOTHESIS_EXAMPLES", "200"))
MUTATIONS = int(os.environ.get("HYPOTHESIS_MUTATIONS", "120"))  # spread over the mutation kinds
COMMON_SETTINGS = dict(
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

# --- building blocks ----------------------------------------------------------------------
# Strategies are module constants and choices among lists are drawn as indices: building
# strategies inside a draw costs hypothesis more than the draw itself.

LOWER = "abcdefghijklmnopqrstuvwxyz"
ALNUM = LOWER + "0123456789"
MIXED = LOWER + LOWER.upper() + "0123456789"
BOOL = st.booleans()


def _ends(text, first, last, fix_first, fix_last):
    """text with its first/last characters forced into the allowed sets."""
    if text[0] not in first:
        text = fix_first + text[1:]
    if text[-1] not in last:
        text = text[:-1] + fix_last
    return text


def dns_label(min_size=1, max_size=20, first=ALNUM):
    """A DNS-1123 label (a DNS-1035 label with first=LOWER)."""
    return st.text(ALNUM + "-", min_size=min_size, max_size=max_size).map(
        lambda s: _ends(s, first, ALNUM, "x", "0"))


_QUALIFIED = st.text(MIXED + "-_.", min_size=1, max_size=12).map(lambda s: _ends(s, MIXED, MIXED, "K", "k"))
_PREFIX = st.builds("{}.{}/".format, dns_label(1, 8, LOWER), dns_label(2, 6, LOWER))
LABEL_KEY = st.builds("{}{}".format, st.one_of(st.just(""), _PREFIX), _QUALIFIED)
LABEL_VALUE = st.text(MIXED + "-_.", max_size=12).map(lambda s: s and _ends(s, MIXED, MIXED, "V", "v"))
LABELS_0_2 = st.dictionaries(LABEL_KEY, LABEL_VALUE, max_size=2)
LABELS_1_2 = st.dictionaries(LABEL_KEY, LABEL_VALUE, min_size=1, max_size=2)

# Annotation values are free text (test_injection.py tries the hard characters). Here: the
# Basic Multilingual Plane without control characters and noncharacters, which Helm 3
# refuses in any value before the chart sees it, and without the other planes, whose
# surrogate-pair escapes (tests/helm.py writes values with json.dump's ensure_ascii) helm's
# YAML reader refuses.
ANNOTATION_TEXT = st.text(
    st.characters(codec="utf-8", max_codepoint=0xFFFF, exclude_categories=("Cc", "Cs", "Co", "Cn"),
                  include_characters="\n\t"),
    max_size=16,
)
ANNOTATIONS = st.dictionaries(LABEL_KEY, ANNOTATION_TEXT, min_size=1, max_size=2)

DURATION = st.one_of(
    st.sampled_from(["250ms", "5s", "1m", "2h", "1h30m", "90s", "100ms", "30s"]),
    st.builds("{}{}".format, st.integers(1, 999), st.sampled_from(["ms", "s", "m", "h"])),
)
# corsPolicy.maxAge: whole seconds (istiod validateCORSPolicy).
WHOLE_SECONDS = st.one_of(
    st.sampled_from(["1h", "10m", "600s", "24h"]),
    st.builds("{}{}".format, st.integers(1, 999), st.sampled_from(["s", "m", "h"])),
)

PORT = st.one_of(st.sampled_from([50051, 8080, 9090, 443, 80, 1, 65535]), st.integers(1, 65535))


def draw_free_port(draw, used):
    """A port not in used (drawn, then moved to the next free one)."""
    port = draw(PORT)
    while port in used:
        port = port % 65535 + 1
    return port


# Hostnames clients use: the last label starts with a letter (istiod refuses an all-numeric TLD).
_PLAIN_HOST = st.builds(lambda labels, tld: ".".join(labels + [tld]),
                        st.lists(dns_label(1, 10), min_size=1, max_size=2), dns_label(1, 8, LOWER))
HOST = st.builds(lambda wildcard, host: ("*." if wildcard else "") + host, BOOL, _PLAIN_HOST)
HOSTS = st.integers(1, 3).flatmap(lambda n: st.lists(HOST, min_size=n, max_size=n, unique=True))

BACKEND_HOST = st.builds(
    lambda form, name, ns: {"short": "%s", "fqdn": "%s.%s.svc.cluster.local", "svc": "%s.%s.svc", "dotted": "%s.%s"}[form]
    % ((name,) if form == "short" else (name, ns)),
    st.sampled_from(["short", "short", "fqdn", "svc", "dotted"]), dns_label(1, 16, LOWER), dns_label(1, 12, LOWER))
# Hosts that differ only by '.' versus '-' (a.b, a-b) would get one DestinationRule name: the
# chart does not refuse them yet, so the strategy keeps clear of them.
BACKEND_HOSTS = st.lists(BACKEND_HOST, min_size=1, max_size=4, unique_by=lambda h: h.replace(".", "-"))

RETRY_TOKENS = ["cancelled", "deadline-exceeded", "internal", "resource-exhausted", "unavailable", "5xx",
                "gateway-error", "reset", "reset-before-request", "connect-failure", "envoy-ratelimited",
                "retriable-4xx", "refused-stream", "retriable-status-codes", "retriable-headers",
                "http3-post-connect-failure"]
# Numeric retryOn tokens: only HTTP statuses Go knows; istiod refuses the others, which the
# schema's [1-5][0-9][0-9] still admits.
RETRY_CODES = ["409", "429", "500", "502", "503", "504"]
RETRY_ON = st.lists(st.sampled_from(RETRY_TOKENS + RETRY_CODES), min_size=1, max_size=4, unique=True).map(",".join)
RETRY_POLICY = st.fixed_dictionaries({"attempts": st.integers(1, 10)}, optional={"perTryTimeout": DURATION, "retryOn": RETRY_ON})
RETRIES = st.one_of(st.just({"attempts": 0}), RETRY_POLICY)

TP_FIELDS = {
    "h2Upgrade": BOOL,
    "maxRequestsPerConnection": st.integers(0, 100000),
    "http2MaxRequests": st.integers(1, 100000),
    "idleTimeout": DURATION,
    "connectTimeout": DURATION,
    "tcpKeepalive": st.fixed_dictionaries(
        {}, optional={"time": DURATION, "interval": DURATION, "probes": st.integers(1, 9)}).filter(bool),
    "loadBalancer": st.sampled_from(["ROUND_ROBIN", "LEAST_REQUEST", "RANDOM", "PASSTHROUGH"]),
}
TP_KEYS = sorted(TP_FIELDS)
CANONICAL_TP = st.fixed_dictionaries(TP_FIELDS)
ANY_TP = st.fixed_dictionaries({}, optional=TP_FIELDS)

# CORS header names istiod accepts (^[-_A-Za-z0-9]+$); the schema still admits any HTTP token.
HEADERS = st.lists(st.text(MIXED + "-_", min_size=1, max_size=12), max_size=3, unique=True)
_ORIGIN_HOST = _PLAIN_HOST
ORIGINS = st.lists(st.one_of(
    st.builds("https://{}".format, _ORIGIN_HOST),
    st.builds("https://{}:{}".format, _ORIGIN_HOST, PORT),
    st.builds(lambda h: {"exact": "https://" + h}, _ORIGIN_HOST),
    st.builds(lambda h: {"prefix": "https://" + h}, dns_label(1, 10)),
    st.just({"regex": "https://[a-z0-9-]+\\.example\\.com"}),
), min_size=1, max_size=3)
CIPHERS = ["ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-RSA-AES128-GCM-SHA256", "ECDHE-ECDSA-AES256-GCM-SHA384"]

PEM_CERT = "-----BEGIN CERTIFICATE-----\nMIIBdummy\n-----END CERTIFICATE-----\n"
PEM_KEY = "-----BEGIN PRIVATE KEY-----\nMIIEdummy\n-----END PRIVATE KEY-----\n"
PEM_CA = "-----BEGIN CERTIFICATE-----\nMIICAdummy\n-----END CERTIFICATE-----\n"

ROUTE_KINDS = st.sampled_from(["services", "services", "methods", "mixed", "prefix", "regex", "catchall"])
SUBSETS = [None, "v1", "v2", "canary"]


def one_in(draw, n):
    """True about once in n draws."""
    return draw(st.integers(0, n - 1)) == 0


def pick(draw, items, lo, hi):
    """lo..hi distinct items of a list (as index draws: no strategy built per list)."""
    hi = min(hi, len(items))
    idx = draw(st.lists(st.integers(0, len(items) - 1), min_size=min(lo, hi), max_size=hi, unique=True))
    return [items[i] for i in idx]


def choice(draw, items):
    return items[draw(st.integers(0, len(items) - 1))]


def _targets(route):
    return route.get("backends") or [route["backend"]]


@st.composite
def routes_and_backends(draw, max_routes):
    """routes plus the chart-level keys whose validity depends on them (trafficPolicy,
    streaming, externalSubsets)."""
    n = draw(st.integers(1, max_routes))
    names = draw(st.lists(dns_label(1, 30), min_size=n, max_size=n, unique=True))
    kinds = [draw(ROUTE_KINDS) for _ in range(n)]
    if kinds.count("catchall") > 1:  # at most one catch-all
        first = kinds.index("catchall")
        kinds = [k if k != "catchall" or i == first else "services" for i, k in enumerate(kinds)]
    # Names that prefix each other (pkg1.Svc1, pkg1.Svc1Admin): a service match must not
    # catch its longer neighbour.
    pool = pick(draw, ["pkg%d.Svc%d%s" % (i, i, x) for i in range(1, 11) for x in ("", "Admin")], 2 * n + 3, 2 * n + 3)
    routes = [{"name": name} for name in names]

    # Matches: each service belongs to one route; methods are unique; a mixed route's
    # methods are of its own services or of services no route serves.
    for r, kind in zip(routes, kinds):
        if kind in ("services", "mixed"):
            k = draw(st.integers(1, 2))
            r["services"], pool = pool[:k], pool[k:]
    served = [s for r in routes for s in r.get("services", [])]
    unserved = pool
    used_methods = set()
    for i, (r, kind) in enumerate(zip(routes, kinds)):
        if kind == "methods":
            candidates = ["%s/M%d" % (s, m) for s in served + unserved for m in range(1, 4)]
            r["methods"] = pick(draw, [c for c in candidates if c not in used_methods], 1, 3)
        elif kind == "mixed":
            candidates = ["%s/M%d" % (s, m) for s in r["services"] + unserved for m in range(1, 4)]
            r["methods"] = pick(draw, [c for c in candidates if c not in used_methods], 1, 2)
        elif kind == "prefix":
            r["prefix"] = "/legacy%d/" % i
        elif kind == "regex":
            r["regex"] = "/re%d\\.Svc/.*" % i
        used_methods.update(r.get("methods", []))

    # Destinations.
    hosts = draw(BACKEND_HOSTS)
    pairs_pool = [(h, s) for h in hosts for s in SUBSETS]
    external = one_in(draw, 5)
    subset_labels = {}
    occurrences = {}  # (host, subset) -> [target dicts]
    for r in routes:
        targets = []
        for host, subset in pick(draw, pairs_pool, 1, 3):
            t = {"host": host, "port": draw(PORT)}
            if subset:
                t["subset"] = subset
                if (host, subset) not in subset_labels:
                    subset_labels[host, subset] = {"version": subset} if draw(BOOL) else draw(LABELS_1_2)
                if draw(BOOL):
                    t["subsetLabels"] = subset_labels[host, subset]
                occurrences.setdefault((host, subset), []).append(t)
            targets.append(t)
        if len(targets) == 1 and draw(BOOL):
            r["backend"] = targets[0]
        else:
            if len(targets) > 1:
                cuts = sorted(draw(st.integers(0, 100)) for _ in targets[1:])
                for t, lo, hi in zip(targets, [0] + cuts, cuts + [100]):
                    t["weight"] = hi - lo
            elif draw(BOOL):
                targets[0]["weight"] = draw(st.integers(0, 100))
            r["backends"] = targets
    if not external:  # every subset defined by at least one of its occurrences
        for key, ts in occurrences.items():
            if not any("subsetLabels" in t for t in ts):
                ts[0]["subsetLabels"] = subset_labels[key]

    # Streaming, timeouts, retries.
    for r in routes:
        streaming = choice(draw, [None, False, True])
        if streaming is not None:
            r["streaming"] = streaming
        if not streaming and draw(BOOL):
            r["timeout"] = draw(DURATION)
        if draw(BOOL):
            r["retries"] = draw(RETRIES)

    # Traffic policies: a DestinationRule is per host, so routes that share a backend host
    # use one canonical value per key (as do the chart default and the streaming defaults);
    # a route whose hosts no other route uses may set anything.
    canonical = draw(CANONICAL_TP)
    users = Counter(h for r in routes for h in {t["host"] for t in _targets(r)})
    for r in routes:
        if not one_in(draw, 3):
            continue
        if all(users[t["host"]] == 1 for t in _targets(r)) and draw(BOOL):
            tp = draw(ANY_TP)
        else:
            tp = {k: canonical[k] for k in pick(draw, TP_KEYS, 1, 3)}
        if tp:
            r["trafficPolicy"] = tp
    extra = {}
    if draw(BOOL):
        extra["trafficPolicy"] = {k: canonical[k] for k in pick(draw, TP_KEYS, 0, 3)}
    if draw(BOOL):
        extra["streaming"] = {"idleTimeout": choice(draw, ["", canonical["idleTimeout"]]),
                              "tcpKeepalive": choice(draw, [{}, canonical["tcpKeepalive"]])}
    if external or one_in(draw, 6):
        extra["externalSubsets"] = external
    return routes, extra


@st.composite
def tls_section(draw, hosts, tls_on, port, used):
    tls = {"enabled": tls_on, "port": port}
    if not tls_on:
        return tls
    mode = choice(draw, ["SIMPLE", "MUTUAL", "OPTIONAL_MUTUAL"])
    tls["mode"] = mode
    source = choice(draw, ["existing", "secret", "certManager"])
    cred = draw(dns_label(1, 30)) if draw(BOOL) else None
    if source == "existing":
        if cred:
            tls["credentialName"] = cred
    else:
        tls["credentialName"] = cred or ""
    if source == "secret":
        tls["secret"] = {"create": True, "cert": PEM_CERT, "key": PEM_KEY}
        if mode != "SIMPLE" and draw(BOOL):
            tls["secret"]["caCert"] = PEM_CA
    elif source == "certManager":
        cm = {"enabled": True, "issuerRef": {"name": draw(dns_label(1, 20)), "kind": choice(draw, ["Issuer", "ClusterIssuer"])}}
        lifetime = choice(draw, [None, ("2160h", "360h"), ("24h", "1h"), ("1h", "5m")])
        if lifetime:
            cm["duration"], cm["renewBefore"] = lifetime
        algorithm, size = choice(draw, [("RSA", 2048), ("RSA", 4096), ("ECDSA", 256), ("ECDSA", 384), ("ECDSA", 521),
                                        ("Ed25519", 0), ("RSA", 0)])
        cm["privateKey"] = {"algorithm": algorithm, "size": size, "rotationPolicy": choice(draw, ["Always", "Never"])}
        tls["certManager"] = cm
    if mode != "SIMPLE" and "caCert" not in tls.get("secret", {}):
        tls["externalCA"] = True
    low = choice(draw, ["TLSV1_2", "TLSV1_3"])
    tls["minProtocolVersion"] = low
    # max >= min: the chart does not refuse max < min yet (Envoy does).
    tls["maxProtocolVersion"] = choice(draw, ["", "TLSV1_3"] + (["TLSV1_2"] if low == "TLSV1_2" else []))
    if one_in(draw, 4):
        tls["cipherSuites"] = pick(draw, CIPHERS, 1, 2)
    if mode != "SIMPLE" and draw(BOOL):
        tls["subjectAltNames"] = ["spiffe://cluster.local/ns/%s/sa/client" % draw(dns_label(1, 10))]
    if len(hosts) > 1 and draw(BOOL):
        claimed = pick(draw, hosts, 1, len(hosts))
        split = draw(st.integers(1, len(claimed)))
        groups = [g for g in (claimed[:split], claimed[split:]) if g]
        # Dotted names: never equal to a default credential (dotless), nor to each other
        # (the chart does not refuse two Certificates of one name yet).
        tls["hosts"] = [{"hosts": g, "credentialName": "entry%d.%s" % (i, draw(dns_label(1, 10)))}
                        for i, g in enumerate(groups)]
    if draw(BOOL):
        tls["httpsRedirect"] = True
        tls["redirectPort"] = draw_free_port(draw, used)
        used.add(tls["redirectPort"])
    return tls


@st.composite
def valid_cases(draw, max_routes=8):
    """(values, release, namespace) the chart must render into valid manifests."""
    release = draw(st.one_of(dns_label(1, 53), st.just("grpc-ingress"), dns_label(40, 53)))
    namespace = draw(st.one_of(st.just("default"), dns_label(1, 63)))
    v = {}
    if one_in(draw, 5):
        v["nameOverride"] = draw(dns_label(1, 63))
    if one_in(draw, 5):
        v["fullnameOverride"] = draw(dns_label(1, 63))
    if draw(BOOL):
        v["commonLabels"] = draw(LABELS_1_2)
    if draw(BOOL):
        v["commonAnnotations"] = draw(ANNOTATIONS)
    hosts = v["hosts"] = draw(HOSTS)

    gw = {"create": draw(BOOL)}
    if not gw["create"]:
        gw["ref"] = "%s/%s" % (draw(dns_label(1, 20)), draw(dns_label(1, 20)))
    if one_in(draw, 4):
        gw["name"] = draw(dns_label(1, 63))
    if one_in(draw, 4):
        gw["namespace"] = draw(dns_label(1, 20))
    if one_in(draw, 4):
        gw["workloadNamespace"] = draw(dns_label(1, 20))
    if one_in(draw, 4):
        gw["selector"] = draw(LABELS_1_2)
    v["gateway"] = gw

    # Listeners and ports: no two servers on one port.
    tls_on, h2c_on, web_on = draw(BOOL), draw(BOOL), draw(BOOL)
    if not (tls_on or h2c_on or web_on):
        tls_on = True
    tls_port = draw(st.one_of(st.sampled_from([443, 8443]), PORT))
    used = {tls_port} if tls_on else set()
    if h2c_on:
        v["h2c"] = {"enabled": True, "port": draw_free_port(draw, used)}
        used.add(v["h2c"]["port"])
    elif draw(BOOL):
        v["h2c"] = {"enabled": False}
    tls = v["tls"] = draw(tls_section(hosts, tls_on, tls_port, used))

    if web_on:
        origins = draw(ORIGINS)
        cors = {"allowOrigins": origins}
        if one_in(draw, 5):
            cors.update(allowOrigins=origins + ["*"], allowAnyOrigin=True)
        if draw(BOOL):
            cors["allowCredentials"] = draw(BOOL)
        if draw(BOOL):
            cors["maxAge"] = draw(WHOLE_SECONDS)
        if draw(BOOL):
            cors["allowHeaders"] = draw(HEADERS)
        if draw(BOOL):
            cors["exposeHeaders"] = draw(HEADERS)
        web = {"enabled": True, "cors": cors}
        if not tls_on:
            web["port"] = draw_free_port(draw, used)
        if draw(BOOL):
            ef = {"enabled": choice(draw, ["auto", True, False])}
            if draw(BOOL):
                ef["listenerPort"] = draw(st.one_of(st.sampled_from([0, 443, 8443]), PORT))
            if draw(BOOL):
                ef["namespace"] = draw(dns_label(1, 20))
            web["envoyFilter"] = ef
        v["grpcWeb"] = web

    routes, extra = draw(routes_and_backends(max_routes))
    v["routes"] = routes
    v.update(extra)
    # Chart-wide retry defaults. attempts >= 1 only: attempts 0 inherits the default retryOn
    # through Helm's map merge, which the chart then refuses (retryOn: null works around it).
    if one_in(draw, 4):
        v["retries"] = {choice(draw, ["unary", "streaming"]): draw(RETRY_POLICY)}

    services = draw(st.lists(dns_label(1, 20, LOWER), max_size=2, unique=True))
    if services:
        v["backendServices"] = []
        for name in services:
            s = {"name": name, "selector": draw(LABELS_1_2), "port": draw(PORT)}
            if draw(BOOL):
                s["targetPort"] = draw(PORT) if draw(BOOL) else choice(draw, ["grpc", "grpc-api", "h2c", "api9"])
            if draw(BOOL):
                s["appProtocol"] = choice(draw, ["grpc", "kubernetes.io/h2c"])
            if draw(BOOL):
                s["portName"] = "grpc-" + draw(dns_label(1, 20))
            v["backendServices"].append(s)

    if one_in(draw, 4):
        v["tests"] = {"enabled": False}
    elif tls_on and tls["mode"] == "MUTUAL" and draw(BOOL):
        v["tests"] = {"clientSecret": draw(dns_label(1, 20))}
    return v, release, namespace


# --- invariants ---------------------------------------------------------------------------

def expected_destinations(route):
    """What backends_for() must answer for a path this route serves."""
    targets = _targets(route)
    weighted = len(targets) > 1
    return sorted(((t["host"], t["port"], t.get("subset"), t.get("weight", 0) if weighted else None)
                   for t in targets), key=repr)


def probe_paths(route):
    """Paths the route must serve (Probe is never a generated method name)."""
    paths = ["/%s/Probe" % s for s in route.get("services", [])]
    paths += ["/" + m for m in route.get("methods", [])]
    if "prefix" in route:
        paths.append(route["prefix"] + "Probe")
    if "regex" in route:
        paths.append(route["regex"].replace("\\.", ".").replace(".*", "Probe"))
    return paths


_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\Z")


def check_invariants(values, r, release, namespace):
    vs = r.one("VirtualService")
    routes = values["routes"]
    by_name = {route["name"]: route for route in routes}
    entries = vs["spec"]["http"]
    assert sorted(e["name"] for e in entries) == sorted(by_name), "one http entry per route"
    gw = values["gateway"]
    if gw["create"]:
        meta = r.one("Gateway")["metadata"]
        assert meta["namespace"] == gw.get("namespace", namespace) and meta["name"] == gw.get("name", meta["name"])
        assert vs["spec"]["gateways"] == ["%s/%s" % (meta["namespace"], meta["name"])]
    else:
        assert vs["spec"]["gateways"] == [gw["ref"]]

    # Every route's services, methods and raw matches reach that route's destinations.
    for route in routes:
        for path in probe_paths(route):
            entry = route_for(vs, path)
            assert entry is not None and entry["name"] == route["name"], \
                "%s reaches %s, not route %s" % (path, entry and entry["name"], route["name"])
            assert sorted(backends_for(vs, path), key=repr) == expected_destinations(route), path
    catch_all = [route["name"] for route in routes if not probe_paths(route)]
    fallback = catch_all[0] if catch_all else None
    entry = route_for(vs, "/zz.Unknown/Call")
    assert (entry and entry["name"]) == fallback

    # Near misses: a service's longer or shorter neighbour (pkg1.Svc1Admin / pkg1.Svc1) and a
    # method's longer neighbour (pkg1.Svc1/M1x) go where their own service goes.
    owner = {s: route["name"] for route in routes for s in route.get("services", [])}
    for route in routes:
        for s in route.get("services", []):
            neighbour = s[:-len("Admin")] if s.endswith("Admin") else s + "Admin"
            entry = route_for(vs, "/%s/Probe" % neighbour)
            assert (entry and entry["name"]) == owner.get(neighbour, fallback), "/%s/Probe" % neighbour
        for m in route.get("methods", []):
            entry = route_for(vs, "/%sx" % m)
            assert (entry and entry["name"]) == owner.get(m.split("/")[0], fallback), "/%sx" % m
    if catch_all:
        assert "match" not in entries[-1] and entries[-1]["name"] == catch_all[0], "the catch-all goes last"

    # Streams never get a route timeout; unary routes keep theirs.
    for e in entries:
        route = by_name[e["name"]]
        if route.get("streaming"):
            assert "timeout" not in e, "streaming route %s has a timeout" % e["name"]
        else:
            assert e.get("timeout") == route.get("timeout")
        assert ("corsPolicy" in e) == bool(values.get("grpcWeb", {}).get("enabled"))

    # Names: DNS-1123 subdomains of at most 63 characters, unique per kind and namespace.
    seen = set()
    for d in r.docs:
        meta = d["metadata"]
        assert len(meta["name"]) <= 63 and _SUBDOMAIN.match(meta["name"]), "%s %r" % (d["kind"], meta["name"])
        identity = (d["apiVersion"], d["kind"], meta.get("namespace"), meta["name"])
        assert identity not in seen, identity
        seen.add(identity)

    # Gateway: port names unique, one protocol family per port number.
    if values["gateway"]["create"]:
        servers = r.one("Gateway")["spec"]["servers"]
        names = [s["port"]["name"] for s in servers]
        assert len(names) == len(set(names)), names
        protocols = {}
        for s in servers:
            protocols.setdefault(s["port"]["number"], set()).add(s["port"]["protocol"])
        assert all(len(p) == 1 for p in protocols.values()), protocols
    else:
        assert not r.has("Gateway")

    # The servers are exactly the listeners asked for, on the hosts asked for.
    assert vs["spec"]["hosts"] == values["hosts"]
    tls, h2c, web = values["tls"], values.get("h2c", {}), values.get("grpcWeb", {})
    if values["gateway"]["create"]:
        expected = set()
        if tls["enabled"]:
            expected.add((tls["port"], "HTTPS"))
            if tls.get("httpsRedirect"):
                expected.add((tls["redirectPort"], "HTTP"))
        if h2c.get("enabled"):
            expected.add((h2c["port"], "HTTP2"))
        if web.get("enabled") and not tls["enabled"]:
            expected.add((web["port"], "GRPC-WEB"))
        servers = r.one("Gateway")["spec"]["servers"]
        assert {(s["port"]["number"], s["port"]["protocol"]) for s in servers} == expected
        for protocol in {p for _, p in expected}:
            served = [h for s in servers if s["port"]["protocol"] == protocol for h in s["hosts"]]
            assert sorted(served) == sorted(values["hosts"]), "%s servers cover %s" % (protocol, served)

    # gRPC-Web over TLS: the EnvoyFilter exactly when asked, on the pod's listener port.
    mode = str(web.get("envoyFilter", {}).get("enabled", "auto")).lower()
    wants_filter = web.get("enabled") and tls["enabled"] and (mode == "true" or (mode == "auto" and values["gateway"]["create"]))
    assert r.has("EnvoyFilter") == bool(wants_filter)
    if wants_filter:
        port = web.get("envoyFilter", {}).get("listenerPort", 8443) or tls["port"]
        assert {p["match"]["listener"]["portNumber"] for p in r.one("EnvoyFilter")["spec"]["configPatches"]} == {port}

    # Backend Services: Istio must know their port speaks gRPC.
    for s in values.get("backendServices", []):
        (port,) = r.one("Service", s["name"])["spec"]["ports"]
        assert port["name"] == s.get("portName", port["name"]) and re.match(r"grpc(-|$)", port["name"]), port
        assert port["appProtocol"] == s.get("appProtocol", "grpc") and port["protocol"] == "TCP", port
        assert (port["port"], port["targetPort"]) == (s["port"], s.get("targetPort", s["port"]))

    # A DestinationRule for name.ns.svc[.cluster.local] lives in ns, where Istio applies it.
    for dr in r.of_kind("DestinationRule"):
        parts = dr["spec"]["host"].removesuffix(".cluster.local").split(".")
        want = parts[1] if len(parts) == 3 and parts[2] == "svc" else namespace
        assert dr["metadata"]["namespace"] == want, dr["spec"]["host"]

    # Every subset a destination names is defined, unless defined elsewhere.
    if not values.get("externalSubsets"):
        defined = {(dr["spec"]["host"], s["name"]) for dr in r.of_kind("DestinationRule")
                   for s in dr["spec"].get("subsets", [])}
        for e in entries:
            for dest in e["route"]:
                d = dest["destination"]
                if "subset" in d:
                    assert (d["host"], d["subset"]) in defined, d


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


@settings(max_examples=EXAMPLES, **COMMON_SETTINGS)
@given(case=valid_cases())
def test_every_valid_values_set_renders_and_routes_as_promised(quiet_helm, case):
    values, release, namespace = case
    note(json.dumps(values, indent=1))
    STATS["hypothesis_examples"] += 1
    r = quiet_helm.helm.render(values, release=release, namespace=namespace)  # validated by conftest's validator
    check_invariants(values, r, release, namespace)


# --- mutations ----------------------------------------------------------------------------

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


def deref(schema):
    """The schema a "$ref": "#/definitions/x" stands for."""
    while isinstance(schema, dict) and "$ref" in schema:
        schema = SCHEMA["definitions"][schema["$ref"].rsplit("/", 1)[-1]]
    return schema


def walk(value, schema, path=()):
    """(path, value, schema) for every node the schema describes directly (not via anyOf)."""
    schema = deref(schema)
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


# Each mutation changes the values in place so that they are invalid for exactly one
# reason, and returns the regexes the normalised error must contain.

def m_unknown_key(v, rnd):
    spots = [p for p, val, s in walk(v, SCHEMA)
             if isinstance(val, dict) and s.get("additionalProperties") is False and "properties" in s]
    path = rnd.choice(spots)
    key = rnd.choice(["unexpectedKey", "timeOut", "hostz", "extra_field", "Enabled"])
    get_at(v, path)[key] = rnd.choice([1, "x", True])
    return ([path_re(*path)] if path else []) + [key_re(key)]


def m_wrong_type(v, rnd):
    spots = [(p, s["type"]) for p, val, s in walk(v, SCHEMA)
             if p and not isinstance(val, (dict, list)) and s.get("type") in ("string", "integer", "boolean")]
    path, kind = rnd.choice(spots)
    bad = {"string": [7, True, 1.5], "integer": ["7", True, 1.5], "boolean": ["yes", "true", 1]}[kind]
    get_at(v, path[:-1])[path[-1]] = rnd.choice(bad)
    return [path_re(*named_path(path))]


def m_bad_port(v, rnd):
    spots = [p for p, val, s in walk(v, SCHEMA)
             if p and p[-1] in ("port", "redirectPort") and s.get("type") == "integer"]
    path = rnd.choice(spots)
    get_at(v, path[:-1])[path[-1]] = rnd.choice([0, 65536, -1, 100000])
    return [path_re(*path)]


def m_zero_timeout(v, rnd):
    i = rnd.randrange(len(v["routes"]))
    v["routes"][i]["timeout"] = rnd.choice(["0s", "0ms", "0m", "0h", "00s", "0h0m0s"])
    return [path_re("routes", i, "timeout")]


def m_timeout_on_stream(v, rnd):
    i = rnd.randrange(len(v["routes"]))
    v["routes"][i].update(streaming=True, timeout=rnd.choice(["5s", "30s", "1h"]))
    return [path_re("routes", i, "timeout"), "streaming"]


def m_retry_on_space(v, rnd):
    bad = rnd.choice(["connect-failure, unavailable", "5xx ,reset", " unavailable", "unavailable,,reset", ""])
    if rnd.random() < 0.7:
        i = rnd.randrange(len(v["routes"]))
        v["routes"][i]["retries"] = {"attempts": 2, "retryOn": bad}
        return [path_re("routes", i, "retries", "retryOn")]
    kind = rnd.choice(["unary", "streaming"])
    v.setdefault("retries", {})[kind] = {"attempts": 2, "retryOn": bad}
    return [path_re("retries", kind, "retryOn")]


def m_duplicate_route_name(v, rnd):
    if len(v["routes"]) < 2:
        new_route(v, services=[fresh_service(v, "dup")])
    j = rnd.randrange(1, len(v["routes"]))
    i = rnd.randrange(j)
    v["routes"][j]["name"] = v["routes"][i]["name"]
    return [path_re("routes", j, "name")]


def m_service_without_package(v, rnd):
    i = rnd.randrange(len(v["routes"]))
    services = v["routes"][i].setdefault("services", [])
    services.append(rnd.choice(["Greeter", "greeter", "Greeter/", ".Greeter", "pkg..Greeter", "1pkg.Greeter", "pkg.Greeter/Say"]))
    return [path_re("routes", i, "services", len(services) - 1)]


def m_bad_method(v, rnd):
    i = rnd.randrange(len(v["routes"]))
    methods = v["routes"][i].setdefault("methods", [])
    methods.append(rnd.choice(["pkg.Greeter", "pkg.Greeter/", "/pkg.Greeter/Say", "Greeter/Say", "pkg.Greeter/Say/Hi", "pkg.Greeter/Say-Hi"]))
    return [path_re("routes", i, "methods", len(methods) - 1)]


def m_weights_not_100(v, rnd):
    i = rnd.randrange(len(v["routes"]))
    r = v["routes"][i]
    r.pop("backend", None)
    weights = rnd.choice([(50, 40), (100, 100), (0, 0), (99, 0), (30, 30, 30)])
    r["backends"] = [{"host": "weights-%d" % k, "port": 50051, "weight": w} for k, w in enumerate(weights)]
    return [path_re("routes", i, "backends"), "100"]


def m_weight_out_of_range(v, rnd):
    i = rnd.randrange(len(v["routes"]))
    r = v["routes"][i]
    if "backend" in r:
        r["backends"] = [r.pop("backend")]
    j = rnd.randrange(len(r["backends"]))
    r["backends"][j]["weight"] = rnd.choice([101, -1, 1000])
    return [path_re("routes", i, "backends", j, "weight")]


def m_backend_and_backends(v, rnd):
    i = rnd.randrange(len(v["routes"]))
    r = v["routes"][i]
    if "backend" in r:
        r["backends"] = [dict(r["backend"])]
    else:
        r["backend"] = {k: val for k, val in r["backends"][0].items() if k != "weight"}
    return [path_re("routes", i)]


def m_no_destination(v, rnd):
    i = rnd.randrange(len(v["routes"]))
    v["routes"][i].pop("backend", None)
    v["routes"][i].pop("backends", None)
    return [path_re("routes", i, "backend")]


def m_undefined_subset(v, rnd):
    if v.get("externalSubsets"):  # define every subset here first, so only ghost is undefined
        v["externalSubsets"] = False
        targets = [t for r in v["routes"] for t in (r.get("backends") or [r["backend"]]) if t.get("subset")]
        labels = {(t["host"], t["subset"]): t["subsetLabels"] for t in targets if "subsetLabels" in t}
        for t in targets:
            t["subsetLabels"] = labels.setdefault((t["host"], t["subset"]), {"version": t["subset"]})
    i = rnd.randrange(len(v["routes"]))
    r = v["routes"][i]
    targets = [dict(t) for t in (r.pop("backends", None) or [r.pop("backend")])]
    for t in targets:
        t["weight"] = 0
    targets[0]["weight"] = 100
    r["backends"] = targets + [{"host": "ghost-host", "port": 50051, "subset": "ghost", "weight": 0}]
    return [path_re("routes", i, "backends"), "ghost"]


def m_empty_hosts(v, rnd):
    v["hosts"] = []
    return [path_re("hosts")]


def m_bad_host(v, rnd):
    k = rnd.randrange(len(v["hosts"]))
    v["hosts"][k] = rnd.choice(["Grpc.example.com", "grpc.EXAMPLE.com", "https://grpc.example.com", "grpc.example.com:443",
                                "grpc_1.example.com", "grpc.example.com/", "*grpc.example.com", "localhost",
                                "grpc..example.com", " grpc.example.com", "grpc.example.com.", "a.*.example.com"])
    return [path_re("hosts", k)]


def m_attempts_zero_with_options(v, rnd):
    i = rnd.randrange(len(v["routes"]))
    v["routes"][i]["retries"] = rnd.choice([{"attempts": 0, "retryOn": "unavailable"}, {"attempts": 0, "perTryTimeout": "1s"}])
    return [path_re("routes", i, "retries")]


def m_attempts_out_of_range(v, rnd):
    i = rnd.randrange(len(v["routes"]))
    v["routes"][i]["retries"] = {"attempts": rnd.choice([11, -1, 100])}
    return [path_re("routes", i, "retries", "attempts")]


def m_second_catch_all(v, rnd):
    if not any(not (r.get("services") or r.get("methods") or r.get("prefix") or r.get("regex")) for r in v["routes"]):
        new_route(v)
    j = new_route(v)
    return [path_re("routes", j), "catch"]


def m_service_claimed_twice(v, rnd):
    services = [s for r in v["routes"] for s in r.get("services", [])]
    if not services:
        new_route(v, services=[fresh_service(v, "claim")])
        services = v["routes"][-1]["services"]
    j = new_route(v, services=[rnd.choice(services)])
    return [path_re("routes", j, "services")]


def m_method_of_served_service_in_mixed_route(v, rnd):
    owner = fresh_service(v, "owner")
    new_route(v, services=[owner])
    j = new_route(v, services=[fresh_service(v, "mixed")], methods=[owner + "/Call"])
    return [path_re("routes", j, "methods")]


def m_raw_match_with_services(v, rnd):
    raw = rnd.choice([{"prefix": "/raw/"}, {"regex": "/raw/.*"}])
    j = new_route(v, services=[fresh_service(v, "raw")], **raw)
    return [path_re("routes", j)]


def m_bad_raw_match(v, rnd):
    field, bad = rnd.choice([("prefix", "legacy/"), ("prefix", "/a b"), ("regex", "")])
    j = new_route(v, **{field: bad})
    return [path_re("routes", j, field)]


def m_traffic_policy_conflict(v, rnd):
    key, a, b = rnd.choice([("loadBalancer", "ROUND_ROBIN", "RANDOM"), ("maxRequestsPerConnection", 1, 2),
                            ("idleTimeout", "5s", "6s"), ("h2Upgrade", True, False)])
    for value in (a, b):
        j = new_route(v, services=[fresh_service(v, "tp")], backend={"host": "conflict-host", "port": 50051},
                      trafficPolicy={key: value})
    return [path_re("routes", j, "trafficPolicy", key), "conflict-host"]


def m_subset_labels_differ(v, rnd):
    for version in ("a", "b"):
        j = new_route(v, services=[fresh_service(v, "lbl")],
                      backend={"host": "labels-host", "port": 1, "subset": "v1", "subsetLabels": {"version": version}})
    return [path_re("routes", j, "backends")]


def m_bad_route_name(v, rnd):
    i = rnd.randrange(len(v["routes"]))
    v["routes"][i]["name"] = rnd.choice(["Bad", "a_b", "-a", "a-", "a" * 64, "a.b", "", "a b"])
    return [path_re("routes", i, "name")]


def m_missing_required(v, rnd):
    i = rnd.randrange(len(v["routes"]))
    r = v["routes"][i]
    if rnd.random() < 0.5:
        del r["name"]
        return [path_re("routes", i), key_re("name")]
    target = r.get("backend") or r["backends"][0]
    field = rnd.choice(["host", "port"])
    del target[field]
    where = ("routes", i, "backend") if "backend" in r else ("routes", i, "backends", 0)
    return [path_re(*where), key_re(field)]


def m_bad_duration(v, rnd):
    bad = rnd.choice(["5 s", "1.5s", "5", "s", "-5s", "1d", "5S", "1h 30m", "PT5S", "5sec"])
    i = rnd.randrange(len(v["routes"]))
    where = rnd.choice([("routes", i, "timeout"), ("routes", i, "retries", "perTryTimeout"),
                        ("routes", i, "trafficPolicy", "connectTimeout"), ("trafficPolicy", "idleTimeout"),
                        ("streaming", "idleTimeout"), ("grpcWeb", "cors", "maxAge")])
    node = v
    for p in where[:-1]:
        if p == "retries" and "retries" not in node:
            node["retries"] = {"attempts": 1}
        node = node.setdefault(p, {}) if isinstance(p, str) else node[p]
    node[where[-1]] = bad
    return [path_re(*where)]


def m_h2c_port_clash(v, rnd):
    own_gateway(v)
    enable_tls(v)
    v["h2c"] = {"enabled": True, "port": v["tls"].get("port", 443)}
    return [path_re("h2c", "port")]


def m_redirect_port_clash(v, rnd):
    own_gateway(v)
    enable_tls(v)
    taken = {v["tls"].get("port", 443)} | ({v["h2c"].get("port", 80)} if v.get("h2c", {}).get("enabled") else set())
    v["tls"].update(httpsRedirect=True, redirectPort=rnd.choice(sorted(taken)))
    return [path_re("tls", "httpsRedirect")]


def m_redirect_without_tls(v, rnd):
    own_gateway(v)
    v["tls"].update(enabled=False, httpsRedirect=True, redirectPort=18999)
    v["h2c"] = {"enabled": True, "port": 18998}
    v.pop("grpcWeb", None)
    return [path_re("tls", "httpsRedirect")]


def m_grpc_web_port_clash(v, rnd):
    own_gateway(v)
    v["tls"]["enabled"] = False
    v["tls"].pop("httpsRedirect", None)
    v["h2c"] = {"enabled": True, "port": 18997}
    web = v.setdefault("grpcWeb", {"cors": {"allowOrigins": ["https://app.example.com"]}})
    web.update(enabled=True, port=18997)
    return [path_re("grpcWeb", "port")]


def m_mutual_without_ca(v, rnd):
    own_gateway(v)
    enable_tls(v)
    v["tls"].update(mode=rnd.choice(["MUTUAL", "OPTIONAL_MUTUAL"]), externalCA=False)
    v["tls"].get("secret", {}).pop("caCert", None)
    return [path_re("tls", "mode")]


def m_ca_without_secret(v, rnd):
    tls = v["tls"]
    tls["secret"] = {"create": False, "caCert": PEM_CA}
    tls["credentialName"] = "mutation-tls"
    return [path_re("tls", "secret", "caCert")]


def m_secret_without_key(v, rnd):
    tls = v["tls"]
    tls.pop("certManager", None)
    field = rnd.choice(["cert", "key"])
    tls["secret"] = {"create": True, "cert": PEM_CERT, "key": PEM_KEY}
    tls["secret"][field] = ""
    keep_client_ca(v)
    return [path_re("tls", "secret", field)]


def m_cert_manager_without_issuer(v, rnd):
    tls = v["tls"]
    tls["secret"] = {"create": False}
    tls["credentialName"] = "mutation-tls"
    keep_client_ca(v)
    tls["certManager"] = {"enabled": True, "issuerRef": {"name": ""}}
    return [path_re("tls", "certManager", "issuerRef", "name")]


def m_two_certificate_sources(v, rnd):
    tls = v["tls"]
    tls["secret"] = {"create": True, "cert": PEM_CERT, "key": PEM_KEY}
    tls["certManager"] = {"enabled": True, "issuerRef": {"name": "ca"}}
    keep_client_ca(v)
    return [path_re("tls", "certManager", "enabled")]


def m_no_listener(v, rnd):
    v["gateway"] = {"create": False, "ref": "istio-system/shared"}
    v["tls"].update(enabled=False, httpsRedirect=False)
    v["h2c"] = {"enabled": False}
    v["grpcWeb"] = {"enabled": False}
    return [path_re("tls", "enabled")]


def m_tls_host_not_in_hosts(v, rnd):
    entries = v["tls"].setdefault("hosts", [])
    entries.append({"hosts": ["not-listed.example.org"], "credentialName": "not-listed"})
    return [path_re("tls", "hosts", len(entries) - 1, "hosts"), "not-listed.example.org"]


def m_no_gateway_ref(v, rnd):
    v["gateway"].update(create=False, ref="")
    return [path_re("gateway", "ref")]


def m_bad_gateway_ref(v, rnd):
    v["gateway"].update(create=False, ref=rnd.choice(["shared", "Istio/gw", "a/b/c", "/gw", "ns/"]))
    return [path_re("gateway", "ref")]


def m_no_origins(v, rnd):
    web = v.setdefault("grpcWeb", {})
    web["enabled"] = True
    web.setdefault("cors", {})["allowOrigins"] = []
    if not v["tls"].get("enabled", True):
        web["port"] = free_port(v)
    return [path_re("grpcWeb", "cors", "allowOrigins")]


def m_star_origin_without_opt_in(v, rnd):
    web = v.setdefault("grpcWeb", {})
    web["enabled"] = True
    web["cors"] = {"allowOrigins": ["https://app.example.com", "*"], "allowAnyOrigin": False}
    if not v["tls"].get("enabled", True):
        web["port"] = free_port(v)
    return [path_re("grpcWeb", "cors", "allowOrigins", 1)]


def m_duplicate_backend_service(v, rnd):
    services = v.setdefault("backendServices", [])
    if not services:
        services.append({"name": "dup-svc", "selector": {"app": "a"}, "port": 1})
    services.append(copy.deepcopy(rnd.choice(services)))
    return [path_re("backendServices", len(services) - 1, "name")]


def m_bad_name_override(v, rnd):
    key = rnd.choice(["fullnameOverride", "nameOverride"])
    v[key] = rnd.choice(["a" * 64, "Upper", "has.dot", "-lead", "trail-", "under_score"])
    return [path_re(key)]


def m_bad_label(v, rnd):
    field = rnd.choice(["commonLabels", "gateway.selector"])
    target = v["gateway"].setdefault("selector", {"istio": "ingressgateway"}) if field == "gateway.selector" \
        else v.setdefault("commonLabels", {})
    if rnd.random() < 0.5:
        target["team"] = rnd.choice(["has space", "x" * 64, "-lead", "a/b"])
        return [path_re(*field.split("."), "team")]
    target[rnd.choice(["bad key", "-lead", "a/b/c", "x" * 64])] = "v"
    return [path_re(*field.split("."))]


MUTATIONS_BY_NAME = {fn.__name__[2:]: fn for fn in [
    m_unknown_key, m_wrong_type, m_bad_port, m_zero_timeout, m_timeout_on_stream, m_retry_on_space,
    m_duplicate_route_name, m_service_without_package, m_bad_method, m_weights_not_100, m_weight_out_of_range,
    m_backend_and_backends, m_no_destination, m_undefined_subset, m_empty_hosts, m_bad_host,
    m_attempts_zero_with_options, m_attempts_out_of_range, m_second_catch_all, m_service_claimed_twice,
    m_method_of_served_service_in_mixed_route, m_raw_match_with_services, m_bad_raw_match,
    m_traffic_policy_conflict, m_subset_labels_differ, m_bad_route_name, m_missing_required, m_bad_duration,
    m_h2c_port_clash, m_redirect_port_clash, m_redirect_without_tls, m_grpc_web_port_clash, m_mutual_without_ca,
    m_ca_without_secret, m_secret_without_key, m_cert_manager_without_issuer, m_two_certificate_sources,
    m_no_listener, m_tls_host_not_in_hosts, m_no_gateway_ref, m_bad_gateway_ref, m_no_origins,
    m_star_origin_without_opt_in, m_duplicate_backend_service, m_bad_name_override, m_bad_label,
]}


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


def test_base_values_are_valid(helm):
    check_invariants(BASE, helm.render(BASE, release="base", namespace="apps"), "base", "apps")


@pytest.mark.parametrize("name", sorted(MUTATIONS_BY_NAME))
def test_each_mutation_of_the_base_values_is_refused(helm, name):
    values = copy.deepcopy(BASE)
    patterns = MUTATIONS_BY_NAME[name](values, random.Random(name))
    STATS["bad_input_cases"] += 1
    assert_refused(helm, values, patterns, "base", "apps")


@pytest.mark.parametrize("name", sorted(MUTATIONS_BY_NAME))
@settings(max_examples=max(1, -(-MUTATIONS // len(MUTATIONS_BY_NAME))), **COMMON_SETTINGS)
@given(case=valid_cases(max_routes=4), rnd=st.randoms(use_true_random=False))
def test_mutations_of_valid_values_are_refused_naming_the_key(quiet_helm, name, case, rnd):
    """Each mutation on a few random valid values sets (parametrized rather than drawn, so
    every mutation runs: hypothesis draws the first items of a sampled_from far more often)."""
    values, release, namespace = copy.deepcopy(case)
    patterns = MUTATIONS_BY_NAME[name](values, rnd)
    note("mutation %s -> %s\n%s" % (name, patterns, json.dumps(values, indent=1)))
    STATS["hypothesis_examples"] += 1
    STATS["bad_input_cases"] += 1
    assert_refused(quiet_helm.helm, values, patterns, release, namespace)


def test_path_regexes_do_not_match_longer_paths():
    """The key-path matcher must be able to fail: routes.1 is not routes.10 nor tls.routes.1."""
    assert re.search(path_re("routes", 1), "at routes.1: bad")
    assert re.search(path_re("routes", 1), "- routes.1.timeout: bad")
    assert not re.search(path_re("routes", 1), "at routes.10: bad")
    assert re.search(path_re("hosts"), "at hosts: minItems: got 0, want 1")
    assert not re.search(path_re("hosts"), "tls.hosts.0.hosts.1: not listed")
    assert not re.search(path_re("hosts", 0), "tls.hosts.0: x")
