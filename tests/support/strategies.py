"""Hypothesis strategies for values sets the chart must accept. valid_cases() draws
(values, release, namespace, facts) across every feature (client connections, reflection and
health routes included); facts carries what the generator
knows beyond the values (facts["host_namespace"][host]: the namespace a backend host names
(name.ns, name.ns.svc, name.ns.svc.cluster.local), None for a short name, which resolves in
the release namespace; facts["own_policy_hosts"]: hosts whose one route sets any
trafficPolicy). The building blocks (hosts,
labels, durations, ports, retry policies, traffic policies, CORS origins) are module constants.
"""
from __future__ import annotations

from collections import Counter

from hypothesis import assume
from hypothesis import strategies as st

from support.values import PEM_CA, PEM_CERT, PEM_KEY

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
_PREFIX = st.one_of(
    st.builds("{}.{}/".format, dns_label(1, 8, LOWER), dns_label(2, 6, LOWER)),
    # the longest prefix the API server takes: a 253-character DNS subdomain
    st.just(".".join(["p" * 63] * 3) + "." + "q" * 61 + "/"),
)
LABEL_KEY = st.builds("{}{}".format, st.one_of(st.just(""), _PREFIX), _QUALIFIED)
LABEL_VALUE = st.text(MIXED + "-_.", max_size=12).map(lambda s: s and _ends(s, MIXED, MIXED, "V", "v"))
LABELS_0_2 = st.dictionaries(LABEL_KEY, LABEL_VALUE, max_size=2)
LABELS_1_2 = st.dictionaries(LABEL_KEY, LABEL_VALUE, min_size=1, max_size=2)

# Annotation values are free text (the injection cases try the hard characters). Here: any
# plane, emoji included (support.helm.values_json writes characters beyond the Basic
# Multilingual Plane raw, which helm's YAML reader takes), without control characters and
# noncharacters, which Helm 3 refuses in any value before the chart sees it.
ANNOTATION_TEXT = st.text(
    st.characters(codec="utf-8", exclude_categories=("Cc", "Cs", "Co", "Cn"), include_characters="\n\t"),
    max_size=16,
)
ANNOTATIONS = st.dictionaries(LABEL_KEY, ANNOTATION_TEXT, min_size=1, max_size=2)

# Go's longest duration in each unit (time.ParseDuration: math.MaxInt64 ns), which every
# reader of these values parses with; one unit more is refused.
LONGEST_DURATIONS = ["2562047h", "153722867m", "9223372036s", "9223372036854ms", "2562047h47m16s"]
DURATION = st.one_of(
    st.sampled_from(["250ms", "5s", "1m", "2h", "1h30m", "90s", "100ms", "30s", "1ms"]),
    # Go's syntax as Istio reads it: fractions, any unit order, us/ns in whole milliseconds.
    st.sampled_from(["1.5s", ".25s", "2.s", "0.001s", "2000us", "1s1m", "1.5h", "+3s", "5000000ns"]),
    st.builds("{}{}".format, st.integers(1, 999), st.sampled_from(["ms", "s", "m", "h"])),
    st.sampled_from(LONGEST_DURATIONS),
)
_UNIT_MS = {"ms": 1, "s": 1000, "m": 60000, "h": 3600000}


def duration_ms(text: str) -> int:
    """A Go duration (time.ParseDuration's syntax, fractions included) in whole milliseconds."""
    from support.validators.cel import go_duration
    return go_duration(text) // 1_000_000


# Two durations, the first at most the second (a keepalive timeout and its interval, a drain
# time and the connection's lifetime).
ORDERED_DURATIONS = st.tuples(DURATION, DURATION).map(lambda p: tuple(sorted(p, key=duration_ms)))

# corsPolicy.maxAge: whole seconds (istiod validateCORSPolicy).
WHOLE_SECONDS = st.one_of(
    st.sampled_from(["1h", "10m", "600s", "24h", "1s", "2562047h", "9223372036s", "1.5m", "0.5h", "2000ms"]),
    st.builds("{}{}".format, st.integers(1, 999), st.sampled_from(["s", "m", "h"])),
)
INT32_MAX, UINT32_MAX = 2**31 - 1, 2**32 - 1  # istio.io/api field sizes

PORT = st.one_of(st.sampled_from([50051, 8080, 9090, 443, 80, 1, 65535]), st.integers(1, 65535))


def draw_free_port(draw, used):
    """A port not in used (drawn, then moved to the next free one)."""
    port = draw(PORT)
    while port in used:
        port = port % 65535 + 1
    return port


# The gateway Service ports of the stock installs (gateway.install), port -> targetPort, as
# Istio's manifests define them (classic istio-ingressgateway; the istio/gateway chart).
STOCK_SERVICE_PORTS = {"istioctl": {80: 8080, 443: 8443}, "gateway-chart": {80: 80, 443: 443}}


class Ports:
    """Hands out gateway Service ports so that no two listeners bind one pod port: from the
    stock install's Service (None when it has no port left), or, for a custom install, any
    port, recorded with a targetPort of its own in service_ports."""

    def __init__(self, draw, install):
        self.draw, self.install = draw, install
        self.service_ports: dict[int, int] = {}
        self.binds: set[int] = set()

    def take(self, prefer=None, exact=False):
        """A port (prefer when its pod port is free; with exact, prefer or None)."""
        if self.install in STOCK_SERVICE_PORTS:
            stock = STOCK_SERVICE_PORTS[self.install]
            free = [p for p in stock if stock[p] not in self.binds]
            if exact:
                free = [p for p in free if p == prefer]
            if not free:
                return None
            port = prefer if prefer in free else choice(self.draw, free)
            self.binds.add(stock[port])
            return port
        if prefer is not None and prefer not in self.service_ports and (exact or self.draw(BOOL)):
            port = prefer
        elif exact:
            return None
        else:
            port = draw_free_port(self.draw, set(self.service_ports))
        target = port if self.draw(BOOL) else self.draw(PORT)
        while target in self.binds:
            target = target % 65535 + 1
        self.service_ports[port] = target
        self.binds.add(target)
        return port


# Hostnames clients use: the last label starts with a letter (istiod refuses an all-numeric TLD).
_PLAIN_HOST = st.builds(lambda labels, tld: ".".join(labels + [tld]),
                        st.lists(dns_label(1, 10), min_size=1, max_size=2), dns_label(1, 8, LOWER))
HOST = st.builds(lambda wildcard, host: ("*." if wildcard else "") + host, BOOL, _PLAIN_HOST)


@st.composite
def _hosts(draw):
    """1-3 distinct hosts; beside a wildcard, sometimes a name it covers (api.x beside *.x),
    which the VirtualService must not repeat (Istio refuses overlapping hosts there)."""
    hosts = draw(st.integers(1, 3).flatmap(lambda n: st.lists(HOST, min_size=n, max_size=n, unique=True)))
    wild = [h for h in hosts if h.startswith("*.")]
    if wild and draw(BOOL):
        covered = draw(dns_label(1, 10, LOWER)) + wild[0][1:]
        if covered not in hosts:
            hosts.insert(draw(st.integers(0, len(hosts))), covered)
    return hosts


HOSTS = _hosts()

BACKEND_HOST_FORMS = {"short": "{name}", "fqdn": "{name}.{ns}.svc.cluster.local", "svc": "{name}.{ns}.svc",
                      "dotted": "{name}.{ns}"}
# (host, the Kubernetes namespace it names or None): a short name resolves in the release
# namespace; name.ns, name.ns.svc and name.ns.svc.cluster.local are the Service name in ns.
BACKEND_HOST = st.builds(
    lambda form, name, ns: (BACKEND_HOST_FORMS[form].format(name=name, ns=ns), None if form == "short" else ns),
    st.sampled_from(["short", "short", "fqdn", "svc", "dotted"]), dns_label(1, 16, LOWER), dns_label(1, 12, LOWER))
BACKEND_HOSTS = st.lists(BACKEND_HOST, min_size=1, max_size=4, unique_by=lambda h: h[0])

RETRY_TOKENS = ["cancelled", "deadline-exceeded", "internal", "resource-exhausted", "unavailable", "5xx",
                "gateway-error", "reset", "reset-before-request", "connect-failure", "envoy-ratelimited",
                "retriable-4xx", "refused-stream", "retriable-status-codes", "retriable-headers",
                "http3-post-connect-failure"]
# Numeric retryOn tokens: every HTTP status Go's net/http StatusText knows (istiod refuses the
# others, and so does the schema).
RETRY_CODES = [str(c) for c in [*range(400, 419), *range(421, 427), 428, 429, 431, 451, *range(500, 509), 510, 511]]
RETRY_ON = st.lists(st.sampled_from(RETRY_TOKENS + RETRY_CODES), min_size=1, max_size=4, unique=True).map(",".join)
RETRY_POLICY = st.fixed_dictionaries({"attempts": st.integers(1, 10)}, optional={"perTryTimeout": DURATION, "retryOn": RETRY_ON})
RETRIES = st.one_of(st.just({"attempts": 0}), RETRY_POLICY)

TP_FIELDS = {
    "h2Upgrade": BOOL,
    "maxRequestsPerConnection": st.one_of(st.integers(0, 100000), st.just(INT32_MAX)),
    "http2MaxRequests": st.one_of(st.integers(1, 100000), st.just(INT32_MAX)),
    "idleTimeout": DURATION,
    "connectTimeout": DURATION,
    "tcpKeepalive": st.fixed_dictionaries(
        {}, optional={"time": DURATION, "interval": DURATION,
                      "probes": st.one_of(st.integers(1, 9), st.just(UINT32_MAX))}).filter(bool),
    "loadBalancer": st.one_of(
        st.sampled_from(["ROUND_ROBIN", "LEAST_REQUEST", "RANDOM", "PASSTHROUGH"]),
        st.builds(lambda s: {"simple": s}, st.sampled_from(["ROUND_ROBIN", "LEAST_REQUEST"])),
        st.builds(lambda h: {"consistentHash": {"httpHeaderName": h}}, st.sampled_from(["x-user-id", "x-session", "tenant_id"]))),
    # At least one consecutive-error count above 0 (the chart refuses an outlier detection that
    # never ejects).
    "outlierDetection": st.fixed_dictionaries(
        {"consecutiveGatewayErrors": st.one_of(st.integers(1, 20), st.just(UINT32_MAX))},
        optional={"consecutive5xxErrors": st.integers(0, 20), "interval": DURATION, "baseEjectionTime": DURATION,
                  "maxEjectionPercent": st.integers(0, 100)}),
    # Istio 1.31 only: valid_cases sets istio.version to 1.31 when a policy carries it.
    "http2KeepAlive": ORDERED_DURATIONS.map(lambda p: {"timeout": p[0], "interval": p[1]}),
}
TP_KEYS = sorted(TP_FIELDS)
CANONICAL_TP = st.fixed_dictionaries(TP_FIELDS)
ANY_TP = st.fixed_dictionaries({}, optional=TP_FIELDS)

# CORS header names istiod accepts, as the schema does: ^[-_A-Za-z0-9]+$.
HEADERS = st.lists(st.text(MIXED + "-_", min_size=1, max_size=12), max_size=3, unique=True)
_ORIGIN_HOST = _PLAIN_HOST
ORIGINS = st.lists(st.one_of(
    st.builds("https://{}".format, _ORIGIN_HOST),
    st.builds("https://{}:{}".format, _ORIGIN_HOST, PORT),
    st.builds(lambda h: {"exact": "https://" + h}, _ORIGIN_HOST),
    st.builds(lambda h: {"prefix": "https://" + h}, dns_label(1, 10)),
    st.just({"regex": "https://[a-z0-9-]+\\.example\\.com"}),
    st.just({"regex": "https://(?:app|admin)\\.example\\.com(:[0-9]{2,5})?"}),
), min_size=1, max_size=3)
CIPHERS = ["ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-RSA-AES128-GCM-SHA256", "ECDHE-ECDSA-AES256-GCM-SHA384"]

ROUTE_KINDS = st.sampled_from(["services", "services", "methods", "mixed", "prefix", "regex", "catchall"])
# Raw regexes with RE2 syntax Python and Go spell alike or not ((?i) mid-pattern, \Q..\E,
# named groups, repeats, anchors) and the 1,024 characters Istio allows, each with a path it
# matches. {i} keeps each route's literal start its own, so no raw route hides another.
REGEXES = [
    ("/re{i}\\.Svc/.*", "/re{i}.Svc/Probe"),
    ("^/re{i}\\.Svc/(?:Get|List)[A-Z]\\w*$", "/re{i}.Svc/GetProbe"),
    ("/re{i}\\.Svc/(?i)probe", "/re{i}.Svc/PROBE"),
    ("/re{i}\\.Svc/\\QQuoted.Name\\E", "/re{i}.Svc/Quoted.Name"),
    ("/re{i}\\.Svc/(?P<m>[A-Z][a-z]{{1,9}})", "/re{i}.Svc/Probe"),
    ("/re{i}\\.Svc/{pad}.*", "/re{i}.Svc/{pad}Probe"),
]
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


def backend_labels(draw, gateway_pods):
    """Labels of backend pods (a subset's, a backend Service's selector), never a superset of
    the gateway pods' labels: the Gateway would then select the backend pods too, and Istio
    (its analyzers, a real cluster) would read them as gateway pods."""
    labels = draw(LABELS_1_2)
    if gateway_pods and all(labels.get(k) == v for k, v in gateway_pods.items()):
        labels = {"version": "backend"}
    return labels


@st.composite
def routes_and_backends(draw, max_routes, gateway_pods=None):
    """(routes, the chart-level keys whose validity depends on them (trafficPolicy, streaming,
    externalSubsets), facts about the backend hosts). gateway_pods: the gateway pods' labels,
    which no subset's labels may include (see backend_labels)."""
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
    samples = {}  # route name -> a path its regex matches
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
            pattern, sample = REGEXES[draw(st.integers(0, len(REGEXES) - 1))]
            pad = "x" * (1024 - len(pattern.format(i=i, pad="")))  # the longest regex Istio takes
            r["regex"], samples[r["name"]] = pattern.format(i=i, pad=pad), sample.format(i=i, pad=pad)
        used_methods.update(r.get("methods", []))

    # Destinations.
    host_namespaces = dict(draw(BACKEND_HOSTS))
    # Hosts that differ only by '.' versus '-' (a.b and a-b) would map to one DestinationRule
    # name: now and then add such a twin (the chart tells them apart with a hash).
    dotted = [h for h in host_namespaces if "." in h]
    if dotted and one_in(draw, 3):
        host_namespaces.setdefault(choice(draw, dotted).replace(".", "-"), None)
    hosts = list(host_namespaces)
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
                    subset_labels[host, subset] = ({"version": subset} if draw(BOOL)
                                                   else backend_labels(draw, gateway_pods))
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
    own_policy = set()  # hosts whose one route sets a policy of its own
    for r in routes:
        if not one_in(draw, 3):
            continue
        if all(users[t["host"]] == 1 for t in _targets(r)) and draw(BOOL):
            tp = draw(ANY_TP)
            own_policy.update(t["host"] for t in _targets(r))
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
    if external:
        # A host the chart gives a DestinationRule (settings or subsets of its own) hides any
        # rule elsewhere from the gateway (the chart refuses that): define its subsets here.
        ruled = {t["host"] for ts in occurrences.values() for t in ts if "subsetLabels" in t}
        stream = extra.get("streaming", {})
        for r in routes:
            if extra.get("trafficPolicy") or r.get("trafficPolicy") or (
                    r.get("streaming") and (stream.get("idleTimeout") or stream.get("tcpKeepalive"))):
                ruled |= {t["host"] for t in _targets(r)}
        for (host, subset), ts in occurrences.items():
            if host in ruled and not any("subsetLabels" in t for t in ts):
                ts[0]["subsetLabels"] = subset_labels[host, subset]
    return routes, extra, {"host_namespace": host_namespaces, "regex_sample": samples, "own_policy_hosts": own_policy}


@st.composite
def tls_section(draw, hosts, tls_on, port, ports):
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
        algorithm, size = choice(draw, [("RSA", 2048), ("RSA", 4096), ("RSA", 8192), ("ECDSA", 256), ("ECDSA", 384),
                                        ("ECDSA", 521), ("Ed25519", 0), ("RSA", 0), ("RSA", None), ("Ed25519", None)])
        cm["privateKey"] = {"algorithm": algorithm, "rotationPolicy": choice(draw, ["Always", "Never"])}
        if size is not None:
            cm["privateKey"]["size"] = size
        tls["certManager"] = cm
    if mode != "SIMPLE" and "caCert" not in tls.get("secret", {}):
        tls["externalCA"] = True
    low = choice(draw, ["TLSV1_2", "TLSV1_3"])
    tls["minProtocolVersion"] = low
    # max >= min: Envoy refuses max < min, and so does the chart (m_tls_max_below_min).
    tls["maxProtocolVersion"] = choice(draw, ["", "TLSV1_3"] + (["TLSV1_2"] if low == "TLSV1_2" else []))
    if one_in(draw, 4):
        tls["cipherSuites"] = pick(draw, CIPHERS, 1, 2)
    if mode != "SIMPLE" and draw(BOOL):
        tls["subjectAltNames"] = ["spiffe://cluster.local/ns/%s/sa/client" % draw(dns_label(1, 10))]
    if len(hosts) > 1 and draw(BOOL):
        claimed = pick(draw, hosts, 1, len(hosts))
        split = draw(st.integers(1, len(claimed)))
        groups = [g for g in (claimed[:split], claimed[split:]) if g]
        if source == "certManager":
            # One Certificate per secret: cert-manager would issue two into one secret, so the
            # chart refuses entries sharing a secret with each other or with the default one
            # (cert-manager-shared-secret). Dotted names never equal the default (dotless).
            names = ["entry%d.%s" % (i, draw(dns_label(1, 10))) for i in range(len(groups))]
        else:
            # Without cert-manager, servers may share a secret, the default one included.
            pool = ["shared.tls", "other.tls"] + ([cred] if cred else [])
            names = [choice(draw, pool) for _ in groups]
        tls["hosts"] = [{"hosts": g, "credentialName": n} for g, n in zip(groups, names)]
    # The redirect sends clients to https://<their Host header>: it only reaches HTTPS from
    # port 80 to 443 (the chart refuses the rest: https-redirect-tls-port-8443).
    if port == 443 and draw(BOOL):
        redirect = ports.take(prefer=80, exact=True)
        if redirect is not None:
            tls["httpsRedirect"] = True
            if draw(BOOL):
                tls["redirectPort"] = 80
    return tls


WINDOW = st.one_of(st.just(0), st.sampled_from([65535, 1048576, 2147483647]), st.integers(65535, 2147483647))


@st.composite
def downstream_section(draw):
    """Client connection settings: "" leaves Istio's value, 0s turns a timeout off; the
    keepalive timeout within its interval, the drain time within the connection's lifetime."""
    d = {}
    for key in ("streamIdleTimeout", "requestTimeout"):
        if draw(BOOL):
            d[key] = choice(draw, ["", "0s", draw(DURATION)])
    if draw(BOOL):
        drain, lifetime = draw(ORDERED_DURATIONS)
        d["maxConnectionDuration"] = lifetime
        if draw(BOOL):
            d["drainTimeout"] = drain
    http2 = {}
    if draw(BOOL):
        timeout, interval = draw(ORDERED_DURATIONS)
        http2["keepalive"] = choice(draw, [{"interval": interval, "timeout": timeout}, {"interval": ""}])
    if draw(BOOL):
        http2["maxConcurrentStreams"] = draw(st.one_of(st.just(0), st.integers(1, 2147483647)))
    if draw(BOOL):
        http2["initialStreamWindowSize"] = draw(WINDOW)
    if draw(BOOL):
        http2["initialConnectionWindowSize"] = draw(WINDOW)
    if http2:
        d["http2"] = http2
    if draw(BOOL):
        d["perConnectionBufferLimitBytes"] = draw(st.one_of(st.just(0), st.integers(1, 4294967295)))
    if draw(BOOL):
        ef = {"enabled": choice(draw, ["auto", True, False])}
        if draw(BOOL):
            ef["priority"] = draw(st.integers(-100, 100))
        d["envoyFilter"] = ef
    return d


def _policies(v):
    yield v.get("trafficPolicy") or {}
    for r in v["routes"]:
        yield r.get("trafficPolicy") or {}


@st.composite
def valid_cases(draw, max_routes=8):
    """(values, release, namespace, facts): values the chart must render into valid manifests."""
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
    install = choice(draw, [None, "istioctl", "gateway-chart", "custom"])
    if install:
        gw["install"] = install
    if not gw["create"]:
        gw["ref"] = "%s/%s" % (draw(dns_label(1, 20)), draw(dns_label(1, 20)))
    if one_in(draw, 4):
        gw["name"] = draw(dns_label(1, 63))
    if one_in(draw, 4):
        gw["namespace"] = draw(dns_label(1, 20))
    if install == "custom" or one_in(draw, 4):
        gw["workloadNamespace"] = draw(dns_label(1, 20))
    if install == "custom" or one_in(draw, 4):
        gw["selector"] = draw(LABELS_1_2)
    v["gateway"] = gw

    # Listeners: ports of the gateway Service, no two kinds on one bind port.
    ports = Ports(draw, install or "istioctl")
    tls_on, h2c_on, web_on = draw(BOOL), draw(BOOL), draw(BOOL)
    if not (tls_on or h2c_on or web_on):
        tls_on = True
    tls_port = ports.take(prefer=443) if tls_on else 443
    if h2c_on:
        h2c_port = ports.take(prefer=80)
        if h2c_port is None:
            h2c_on = False
        else:
            v["h2c"] = {"enabled": True, "port": h2c_port}
    if not h2c_on and draw(BOOL):
        v["h2c"] = {"enabled": False}
    tls = v["tls"] = draw(tls_section(hosts, tls_on, tls_port, ports))

    if web_on:
        web_port = None if tls_on else ports.take(prefer=80)
        if not tls_on and web_port is None:
            web_on = False
    if web_on:
        origins = draw(ORIGINS)
        cors = {"allowOrigins": origins}
        if one_in(draw, 5):
            cors.update(allowOrigins=origins + ["*"], allowAnyOrigin=True)
        if draw(BOOL):  # never with allowAnyOrigin (cors-credentials-any-origin)
            cors["allowCredentials"] = draw(BOOL) and not cors.get("allowAnyOrigin")
        if draw(BOOL):
            cors["maxAge"] = draw(WHOLE_SECONDS)
        if draw(BOOL):
            cors["allowHeaders"] = draw(HEADERS)
        if draw(BOOL):
            cors["exposeHeaders"] = draw(HEADERS)
        web = {"enabled": True, "cors": cors}
        if not tls_on:
            web["port"] = web_port
        if draw(BOOL):
            ef = {"enabled": choice(draw, ["auto", True, False])}
            if draw(BOOL):
                # Deprecated: a Gateway this chart renders only takes the bind port it has.
                ef["listenerPort"] = draw(st.one_of(st.sampled_from([0, 443, 8443]), PORT)) if not gw["create"] else 0
            if draw(BOOL):  # where Istio applies it: the gateway pods' or the root namespace
                ef["namespace"] = choice(draw, ["", gw.get("workloadNamespace", "istio-system"), "istio-system"])
            if draw(BOOL):
                ef["priority"] = draw(st.integers(-1000, 1000).filter(bool))
            if not gw["create"] and draw(BOOL):
                ef["serverNames"] = draw(HOSTS)
            web["envoyFilter"] = ef
        v["grpcWeb"] = web
    if install == "custom":
        gw["servicePorts"] = {str(p): t for p, t in ports.service_ports.items()} or {"443": 8443}

    routes, extra, facts = draw(routes_and_backends(max_routes, gw.get("selector") or {"istio": "ingressgateway"}))
    v["routes"] = routes
    v.update(extra)
    # Chart-wide retry defaults; attempts: 0 turns them off (Helm merges the default retryOn in,
    # and the chart still reads it as off).
    if one_in(draw, 4):
        v["retries"] = {choice(draw, ["unary", "streaming"]): draw(RETRIES)}

    services = draw(st.lists(dns_label(1, 20, LOWER), max_size=2, unique=True))
    if services:
        v["backendServices"] = []
        for name in services:
            s = {"name": name, "selector": backend_labels(draw, gw.get("selector") or {"istio": "ingressgateway"}),
                 "port": draw(PORT)}
            if draw(BOOL):
                s["targetPort"] = draw(PORT) if draw(BOOL) else choice(draw, ["grpc", "grpc-api", "h2c", "api9"])
            if draw(BOOL):
                s["appProtocol"] = choice(draw, ["grpc", "kubernetes.io/h2c"])
            if draw(BOOL):
                s["portName"] = "grpc-" + draw(dns_label(1, 20))
            v["backendServices"].append(s)

    if any("http2KeepAlive" in p for p in _policies(v)):
        v["istio"] = {"version": "1.31"}  # DestinationRule http2KeepAlive is new in Istio 1.31
    elif one_in(draw, 4):
        v["istio"] = {"version": choice(draw, ["1.24", "1.28", "1.30", "1.31"])}
    if draw(BOOL):
        v["downstream"] = draw(downstream_section())

    # Reflection and health pass-through: their backends are hosts the routes use (but those
    # whose one route sets a policy of its own, which a second user may contradict), or new ones.
    hosts_used = sorted({t["host"] for r in routes for t in _targets(r)} - facts["own_policy_hosts"])
    for key in ("reflection", "health"):
        if one_in(draw, 3):
            host = choice(draw, hosts_used + ["reflector", "health-svc"])
            v[key] = {"enabled": True, "backend": {"host": host, "port": draw(PORT)}}
            facts["host_namespace"].setdefault(host, None)  # a fresh short name: the release namespace

    if one_in(draw, 4):
        v["tests"] = {"enabled": False}
    else:
        if tls_on and tls["mode"] == "MUTUAL" and draw(BOOL):
            v["tests"] = {"clientSecret": draw(dns_label(1, 20))}
        if install == "custom" or one_in(draw, 6):
            v.setdefault("tests", {})["gatewayAddress"] = "%s.%s.svc" % (draw(dns_label(1, 20)), draw(dns_label(1, 20)))

    # One Service spelled two ways, or a chart-rendered Service a route reaches on another
    # port, is refused (one-service-two-spellings, route-port-not-on-the-charts-service):
    # the random names rarely meet, and such draws are discarded.
    services = {h: (h.split(".")[0], ns or namespace) for h, ns in facts["host_namespace"].items()
                if "." not in h or ns is not None}
    assume(len(set(services.values())) == len(services))
    rendered = {(s["name"], namespace) for s in v.get("backendServices", [])}
    assume(not rendered & set(services.values()))

    add_nulls(draw, v)
    return v, release, namespace, facts


# Optional maps a user may write as null or {}, both meaning the default: paths into the
# values, and the route-level ones.
OPTIONAL_MAPS = [("commonLabels",), ("commonAnnotations",), ("h2c",), ("grpcWeb",), ("grpcWeb", "cors"),
                 ("grpcWeb", "envoyFilter"), ("streaming",), ("streaming", "tcpKeepalive"), ("retries",),
                 ("retries", "unary"), ("trafficPolicy",), ("tests",), ("tests", "image"), ("tests", "resources"),
                 ("tls", "secret"), ("tls", "certManager"), ("gateway", "selector")]
ROUTE_MAPS = ["retries", "trafficPolicy"]


def add_nulls(draw, v):
    """Now and then write an optional map the values leave out as null or {}: the chart must
    read both as the default (Helm deletes a null key; the chart puts the default back)."""
    for path in OPTIONAL_MAPS:
        parent = v
        for key in path[:-1]:
            parent = parent.get(key) if isinstance(parent, dict) else None
        if isinstance(parent, dict) and path[-1] not in parent and one_in(draw, 4):
            parent[path[-1]] = choice(draw, [None, {}])
    for r in v["routes"]:
        for key in ROUTE_MAPS:
            if key not in r and one_in(draw, 6):
                r[key] = choice(draw, [None, {}])


def without_nulls(values):
    """The values as the chart means them: null and {} for an optional map are left out."""
    if isinstance(values, dict):
        return {k: without_nulls(v) for k, v in values.items() if v is not None and v != {}}
    if isinstance(values, list):
        return [without_nulls(v) for v in values]
    return values
