"""What a values set promises a client of the gateway, asked of Istio through the harness.

    plan = Plan(values, release, namespace, facts)
    result = istio.run([plan.case(render)])[0]
    plan.broken(result)        # [Problem(concern, text, known)]: every promise Istio's answer breaks

Everything expected is read from the values (with the chart's defaults from values.yaml merged
under them, as Helm does), never from the rendered output: which route a path reaches (a
method beats its service, a service beats raw prefixes and regexes, the catch-all takes the
rest), the clusters and weights of its backends, the timeout (none on streams), the retries,
CORS, grpc_web, the listeners the values ask for and their certificates.

The world around the render is what the values presume: the gateway install they name
(gateway.install: the classic istio-ingressgateway, the istio/gateway chart, or a custom one),
with its pods in gateway.workloadNamespace labelled gateway.selector and its Service ports
gateway.servicePorts where the values override the install's; each backend a gRPC Service
(name, name.ns, name.ns.svc and the FQDN all name the Service name in ns); subsets defined by
their owner's DestinationRule when externalSubsets says so; for a Gateway someone else owns
(gateway.create false), that Gateway, serving the hosts over HTTPS on 443.

A Problem with `known` set breaks a promise in a way a known bug of today's chart explains;
KNOWN_BUGS lists each (none today: issue 10 fixed the last ones), and test_known_bugs_still_show
fails when one stops showing up, so the fix has to remove its entry.
"""
from __future__ import annotations

import copy
import functools
import re
from dataclasses import dataclass, field

import yaml

from support.helm import ROOT
from support.istio import INSTALLS, Call, IstioHarness, grpc, grpc_web, world_for
from support.istio_checks import NO_ROUTE, REDIRECT, analysis_problems, shares
from support.values import coalesce

# --- known bugs of today's chart -----------------------------------------------------------------

# key -> the bug (and its issue). Add one only with the code that tags exactly its Problems;
# test_known_bugs_still_show fails once it no longer shows up. Issue 10 emptied it: IST0151 on
# the grpc_web EnvoyFilter, its listenerPort off the bind port, and name.ns.svc hosts (which
# Istio does not resolve: pilot/pkg/model/config.go ResolveShortnameToFQDN) are fixed.
KNOWN_BUGS: dict[str, str] = {}

# gateway.install -> the harness's install of that name (support.istio.INSTALLS).
STOCK_INSTALLS = {"istioctl": "classic", "gateway-chart": "gateway-chart"}


# What a Problem is about, so that each feature's property asks about its own.
CONCERNS = ("admission", "analysis", "routing", "look_alikes", "timeouts", "retries", "cors", "grpc_web", "listeners",
            "tls")


@dataclass(frozen=True)
class Problem:
    concern: str  # one of CONCERNS
    text: str
    known: str | None = None  # a KNOWN_BUGS key when that bug explains it


# --- the values, as Helm merges them ----------------------------------------------------------------

@functools.cache
def _chart_defaults() -> dict:
    return yaml.safe_load((ROOT / "values.yaml").read_text())


def effective_values(values: dict) -> dict:
    return coalesce(copy.deepcopy(_chart_defaults()), values)


_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1, "m": 60, "h": 3600}


def seconds(duration: str | None) -> float | None:
    """A Go duration ("1h30m", "250ms") or a protobuf JSON one ("5400s", "0.250s") in seconds."""
    if duration is None:
        return None
    duration = duration.lstrip("+")
    parts = re.findall(r"([0-9.]+)(ns|us|µs|ms|s|m|h)", duration)
    assert parts and "".join(a + b for a, b in parts) == duration, f"not a duration: {duration!r}"
    return round(sum(float(n) * _UNITS[u] for n, u in parts), 9)


# --- hosts and clusters -----------------------------------------------------------------------------

def meant_fqdn(host: str, namespace: str, domain: str) -> str:
    """The Service a backend host names (README: name, name.ns, name.ns.svc or the FQDN; a short
    name is in the release namespace), as its hostname in the cluster domain."""
    parts = host.split(".")
    return f"{parts[0]}.{parts[1] if len(parts) > 1 else namespace}.svc.{domain}"


def cluster(fqdn: str, port: int, subset: str | None) -> str:
    return f"outbound|{port}|{subset or ''}|{fqdn}"


# --- routes -------------------------------------------------------------------------------------------

# reflection.* and health.*: the route each adds (README "Reflection and health").
PASS_THROUGH = {
    "reflection": ("grpc-reflection", ["grpc.reflection.v1.ServerReflection", "grpc.reflection.v1alpha.ServerReflection"]),
    "health": ("grpc-health", ["grpc.health.v1.Health"]),
}


def declared_routes(values: dict) -> list[dict]:
    """The routes the values declare: routes[], then the reflection and health routes that
    reflection.enabled / health.enabled add, written as a routes[] entry would be."""
    out = list(values["routes"])
    for key, (name, services) in PASS_THROUGH.items():
        settings = values.get(key) or {}
        if settings.get("enabled"):
            out.append({"name": name, "services": services, "streaming": True, "backend": settings["backend"]})
    return out


def probe_paths(route: dict, samples: dict | None = None) -> list[str]:
    """Paths the route itself must serve (Probe is never a generated method name); a regex's
    path is the generator's sample for it (facts["regex_sample"]), else the regex with .* made
    Probe."""
    paths = ["/%s/Probe" % s for s in route.get("services", [])]
    paths += ["/" + m for m in route.get("methods", [])]
    if route.get("prefix"):
        paths.append(route["prefix"] + "Probe")
    if route.get("regex"):
        paths.append((samples or {}).get(route["name"]) or route["regex"].replace("\\.", ".").replace(".*", "Probe"))
    return paths


def catch_all(routes: list[dict]) -> dict | None:
    found = [r for r in routes if not (r.get("services") or r.get("methods") or r.get("prefix") or r.get("regex"))]
    return found[0] if found else None


def look_alikes(routes: list[dict]) -> list[tuple[str, dict | None]]:
    """(path, the route that must serve it) for paths no route names: a service's longer or
    shorter neighbour (pkg1.Svc1Admin / pkg1.Svc1) and a method's longer neighbour
    (pkg1.Svc1/M1x) go where their own service goes, else to the catch-all; an unknown service
    to the catch-all. None: no route (Istio answers 404)."""
    fallback = catch_all(routes)
    owner = {s: r for r in routes for s in r.get("services", [])}
    out = [("/zz.Unknown/Call", fallback)]
    for r in routes:
        for s in r.get("services", []):
            neighbour = s[:-len("Admin")] if s.endswith("Admin") else s + "Admin"
            out.append(("/%s/Probe" % neighbour, owner.get(neighbour, fallback)))
        for m in r.get("methods", []):
            out.append(("/%sx" % m, owner.get(m.split("/")[0], fallback)))
    return out


@dataclass(frozen=True)
class RouteExpect:
    name: str
    shares: dict          # cluster -> percent of the calls
    streaming: bool
    timeout: float | None
    attempts: int
    per_try: float | None
    retry_on: str | None  # None: the values do not say (a route's retries without retryOn)


def route_expect(route: dict, v: dict, namespace: str) -> RouteExpect:
    """What a route promises: backend takes every call; backends split them by weight
    (unset: 0)."""
    targets = route.get("backends") or [route["backend"]]
    shares = {}
    for t in targets:
        meant = cluster(meant_fqdn(t["host"], namespace, v["clusterDomain"]), t["port"], t.get("subset"))
        shares[meant] = shares.get(meant, 0) + (100 if len(targets) == 1 else t.get("weight", 0))
    streaming = bool(route.get("streaming"))
    # The route's own retries, else the chart's for its kind (README: retries.unary / .streaming).
    retries = route.get("retries") or v["retries"]["streaming" if streaming else "unary"]
    attempts = retries.get("attempts", 0)
    return RouteExpect(route["name"], {k: w for k, w in shares.items() if w}, streaming,
                       None if streaming else seconds(route.get("timeout")), attempts,
                       seconds(retries.get("perTryTimeout")) if attempts else None,
                       retries.get("retryOn") if attempts else None)


# --- the plan: one values set on one install ----------------------------------------------------------

@dataclass
class Promise:
    call: Call
    kind: str = ""                    # the server it goes through: tls, h2c, grpcWeb, shared, redirect
    route: RouteExpect | None = None  # None with no_route: Istio answers 404
    no_route: bool = False
    redirect: bool = False
    plaintext: bool = False
    grpc_web: bool | None = None      # True: the chain has grpc_web; None: not asked
    certificate: str = ""
    client_certificate: bool = False
    min_tls: str = ""


_SERVER_KINDS = ("tls", "h2c", "grpcWeb")  # the kinds that serve routes, in the order calls prefer them


class Plan:
    def __init__(self, values: dict, release: str, namespace: str, facts: dict | None = None):
        """values as the chart means them (no nulls: support.strategies.without_nulls); facts:
        the generator's (regex_sample: a path each regex route matches)."""
        self.values, self.release, self.namespace = values, release, namespace
        self.samples = (facts or {}).get("regex_sample") or {}
        v = self.v = effective_values(values)
        gw = v["gateway"]
        self.create = bool(gw["create"])
        self.inst = self._install()
        self.install_name = STOCK_INSTALLS.get(gw["install"], gw["install"])
        self.ports = self._server_ports()
        self.bind = {kind: self._bind(port) for kind, port in self.ports.items()}
        self.declared = declared_routes(v)
        self.routes = [(r, route_expect(r, v, namespace)) for r in self.declared]
        self.promises = self._promises()

    # the world ---------------------------------------------------------------------------------
    def _install(self) -> dict:
        """The gateway install the values name (gateway.install), with what they override: the
        pods' namespace and labels, the Service's port -> targetPort map."""
        gw = self.v["gateway"]
        stock = STOCK_INSTALLS.get(gw["install"])
        inst = copy.deepcopy(INSTALLS[stock]) if stock else {
            "name": "custom-gateway", "pod_ip": "10.0.0.10",
            "ports": [{"name": "status-port", "port": 15021, "target_port": 15021}]}
        if gw.get("workloadNamespace"):
            inst["namespace"] = gw["workloadNamespace"]
        if gw.get("selector"):
            inst["labels"] = dict(gw["selector"])
        if gw.get("servicePorts"):
            inst["ports"] = inst["ports"][:1] + [{"name": f"port-{p}", "port": int(p), "target_port": int(t)}
                                                 for p, t in sorted(gw["servicePorts"].items(), key=lambda i: int(i[0]))]
        if not self.create and 443 not in {p["port"] for p in inst["ports"]}:
            # The platform team's Gateway (support.istio.world_for) serves HTTPS on 443.
            inst["ports"].append({"name": "https", "port": 443, "target_port": 443})
        return inst

    def _server_ports(self) -> dict[str, int]:
        v = self.v
        if not self.create:
            return {}
        ports = {}
        if v["tls"]["enabled"]:
            ports["tls"] = v["tls"]["port"]
            if v["tls"].get("httpsRedirect"):
                ports["redirect"] = v["tls"]["redirectPort"]
        if v["h2c"]["enabled"]:
            ports["h2c"] = v["h2c"]["port"]
        if v["grpcWeb"]["enabled"] and not v["tls"]["enabled"]:
            ports["grpcWeb"] = v["grpcWeb"]["port"]
        return ports

    def _bind(self, port: int) -> int:
        return next(p["target_port"] for p in self.inst["ports"] if p["port"] == port)

    def owner_subsets(self) -> dict:
        if not self.v.get("externalSubsets"):
            return {}
        out: dict = {}
        for r in self.declared:
            for t in r.get("backends") or [r["backend"]]:
                if t.get("subset"):
                    host = meant_fqdn(t["host"], self.namespace, self.v["clusterDomain"])
                    out.setdefault(host, {})[t["subset"]] = {"version": t["subset"]}
        return out

    def case(self, render, calls: list[Call] | None = None) -> dict:
        """The harness input for this values set's render on this install: the promises' calls,
        or the calls given."""
        fixtures = world_for(render.docs, self.inst, shared_gateway_hosts=self.v["hosts"],
                             owner_subsets=self.owner_subsets())
        return IstioHarness.case(render.stdout, install=self.inst, namespace=self.namespace, fixtures=fixtures,
                                 calls=[p.call for p in self.promises] if calls is None else calls)

    def call(self, id: str, path: str, host: str | None = None, **kw) -> Call:
        """A gRPC call through the listener the route calls use (main_kind), on host (default:
        the first of hosts)."""
        kind = self.main_kind()
        assert kind is not None, "no listener serves routes"
        return self._call(kind, id, path, host or self.v["hosts"][0], **kw)

    # the calls ---------------------------------------------------------------------------------
    def authority(self, host: str) -> str:
        return "zz-probe" + host[1:] if host.startswith("*") else host

    def _call(self, kind: str, id: str, path: str, host: str, **kw) -> Call:
        authority = self.authority(host)
        if not self.create:  # the platform team's Gateway: HTTPS on 443 (support.istio.world_for)
            return grpc(id, path, authority, port=443, **kw)
        port = self.ports[kind]
        if kind == "tls":
            return grpc(id, path, authority, port=port, **kw)
        if kind == "h2c":
            return grpc(id, path, authority, port=port, tls=False, **kw)
        origin = self._origins()[0] if self._origins() else "https://app.example.com"
        return grpc_web(id, path, authority, origin, port=port, tls=False, protocol="http", **kw)

    def _origins(self) -> list[str]:
        return [o for o in self.v["grpcWeb"]["cors"]["allowOrigins"] if isinstance(o, str) and o != "*"]

    def main_kind(self) -> str | None:
        """The listener the route calls go through: the first server kind that serves routes."""
        if not self.create:
            return "shared"
        return next((kind for kind in _SERVER_KINDS if kind in self.ports), None)

    def _promises(self) -> list[Promise]:
        v, out = self.v, []
        kind = self.main_kind()
        hosts = v["hosts"]
        if kind is not None:
            n = 0
            for r, exp in self.routes:
                for path in probe_paths(r, self.samples):
                    out.append(self._route_promise(kind, f"route-{n}", path, hosts[n % len(hosts)], exp))
                    n += 1
            for path, owner in look_alikes(self.declared):
                exp = dict(self.routes_by_name()).get(owner["name"]) if owner else None
                out.append(self._route_promise(kind, f"alike-{n}", path, hosts[n % len(hosts)], exp))
                n += 1
        # Every listener the values ask for answers, on every host: the first route's first path
        # (or any path, to the catch-all).
        r0, e0 = self.routes[0]
        path = (probe_paths(r0, self.samples) or ["/zz.Unknown/Call"])[0]
        for k in [k for k in _SERVER_KINDS if k in self.ports] + (["shared"] if not self.create else []):
            for i, host in enumerate(hosts):
                p = self._route_promise(k, f"listener-{k}-{i}", path, host, e0)
                if k == "tls":
                    self._tls_promise(p, host)
                out.append(p)
        if "redirect" in self.ports:
            out.append(Promise(Call("redirect", "/", self.authority(hosts[0]), port=self.ports["redirect"],
                                    tls="plaintext", protocol="http", method="GET"),
                               kind="redirect", redirect=True, plaintext=True))
        return out

    def routes_by_name(self):
        return [(r["name"], e) for r, e in self.routes]

    def _route_promise(self, kind, id, path, host, exp) -> Promise:
        p = Promise(self._call(kind, id, path, host), kind=kind, route=exp, no_route=exp is None,
                    plaintext=kind in ("h2c", "grpcWeb"))
        web = self.v["grpcWeb"]
        if kind == "grpcWeb":
            p.grpc_web = True  # Istio adds grpc_web on GRPC-WEB servers itself
        elif kind == "tls" and web["enabled"]:
            p.grpc_web = self._grpc_web_on_tls()
        return p

    def _grpc_web_on_tls(self) -> bool | None:
        """Whether the chart's EnvoyFilter must put grpc_web on this chart's HTTPS chains: when it
        renders one (enabled true, or auto with a Gateway of its own) where Istio applies it
        (README: gateway.workloadNamespace or the root namespace, istio-system; PushContext
        EnvoyFilters) on the port the gateway pod binds (the port model; a listenerPort the user
        sets to another port is their statement). None: not asked."""
        ef = self.v["grpcWeb"]["envoyFilter"]
        mode = str(ef.get("enabled", "auto")).lower()
        if mode == "false" or (mode == "auto" and not self.create):
            return None
        if ef.get("namespace") not in (None, "", self.inst["namespace"], "istio-system"):
            return None
        return True if ef.get("listenerPort") in (None, 0, self.bind["tls"]) else None

    def _tls_promise(self, p: Promise, host: str) -> None:
        tls = self.v["tls"]
        names = [g["credentialName"] for g in tls.get("hosts") or [] if host in g["hosts"]]
        name = names[0] if names else tls.get("credentialName")
        # An empty credentialName means the release's own <fullname>-tls: a name only the chart
        # knows, so it is not checked here (test_tls covers it).
        if name:
            p.certificate = f"kubernetes://{name}"
        p.client_certificate = tls["mode"] == "MUTUAL"
        p.min_tls = {"TLSV1_2": "TLSv1_2", "TLSV1_3": "TLSv1_3"}[tls["minProtocolVersion"]]

    # checking Istio's answer ------------------------------------------------------------------------
    def broken(self, res) -> list[Problem]:
        """Every promise of this values set that Istio's answer breaks."""
        out = [Problem("admission", f"Istio's webhook refuses {r['kind']} {r['namespace']}/{r['name']}: {r['message']}")
               for r in res.refused()]
        if not any(v["kind"] == "VirtualService" for v in res.validation):
            out.append(Problem("admission", "Istio's webhook saw no VirtualService"))
        out += [Problem("admission", f"Istio's xDS fails its own checks: {x}") for x in res.xds_invalid]
        out += [Problem("analysis", text) for text in analysis_problems(res)]
        for p in self.promises:
            out += self.call_problems(res, p)
        return out

    def call_problems(self, res, p: Promise) -> list[Problem]:
        got = res.call(p.call.id)
        where = f"{p.call.id} ({p.call.method} {p.call.path} on {p.call.authority}:{p.call.port}, {self.install_name})"
        out: list[Problem] = []

        reaching = ("listeners" if p.call.id.startswith(("listener-", "redirect")) else
                    "look_alikes" if p.call.id.startswith("alike-") else "routing")

        def check(ok, msg, known=None, concern=reaching):
            if not ok:
                out.append(Problem(concern, f"{where}: {msg}", known))

        if p.redirect:
            check(got.get("error") == REDIRECT, f"no HTTPS redirect: {got.get('error')!r}, route {got.get('route')}")
            return out
        if p.no_route:
            check(got.get("error") == NO_ROUTE, f"expected no route (404), got {got.get('error')!r}: route "
                                                f"{got.get('route')} to {[u['name'] for u in got['upstreams']]}")
            return out
        if got.get("error"):
            check(False, f"did not reach a route: {got['error']} (listeners: {[l['name'] for l in res.listeners]})")
            return out
        check(got["path_only"], "a route before the match needs headers; the path-only answer may be wrong")
        e = p.route
        went = shares(got)
        check(went == e.shares, f"reached {went}, not route {e.name}'s {e.shares}")
        for u in got["upstreams"]:
            check(u["found"], f"the gateway has no cluster {u['name']} (Envoy answers 503 NC)")
            check(not u["found"] or u["protocol"] == "h2", f"the gateway speaks {u.get('protocol')} to {u['name']}, "
                                                            f"not HTTP/2")
        t = "timeouts"
        if e.streaming:
            check(got["timeout"] in (None, "0s"), f"a stream gets route timeout {got['timeout']}", concern=t)
            check(got.get("max_stream_duration") in (None, {}), f"a stream gets {got.get('max_stream_duration')}",
                  concern=t)
            # downstream.streamIdleTimeout: a duration the user set closes quiet streams, as
            # asked; "0s" or unset (Istio's own 0 on 1.24-1.30) must leave them open.
            asked = (self.v.get("downstream") or {}).get("streamIdleTimeout")
            if not asked or seconds(asked) == 0:
                check((got.get("hcm") or {}).get("stream_idle_timeout") in (None, "0s"),
                      f"streams idle out after {(got.get('hcm') or {}).get('stream_idle_timeout')}", concern=t)
        else:
            check(seconds(got["timeout"] or "0s") == (e.timeout or 0), f"route timeout {got['timeout']}, not "
                                                                         f"{e.timeout or 'none'} s", concern=t)
        policy = got["retry_policy"] or {}
        check(policy.get("numRetries", 0) == e.attempts, f"retries {policy}, not {e.attempts} attempts",
              concern="retries")
        if e.per_try is not None:
            check(seconds(policy.get("perTryTimeout")) == e.per_try, f"per-try timeout {policy.get('perTryTimeout')}, "
                                                                      f"not {e.per_try} s", concern="retries")
        if e.retry_on is not None:
            # Envoy's retry_on takes the named conditions; Istio moves HTTP status codes to
            # retriable_status_codes and names retriable-status-codes for them
            # (pilot/pkg/networking/core/route/retry/retry.go ConvertPolicy, parseRetryOn).
            tokens = e.retry_on.split(",")
            codes = [int(t) for t in tokens if t.isdigit()]
            named = {t for t in tokens if not t.isdigit()} | ({"retriable-status-codes"} if codes else set())
            # (All codes: Istio writes ",retriable-status-codes"; the empty name means nothing.)
            check(set(policy.get("retryOn", "").split(",")) - {""} == named
                  and sorted(policy.get("retriableStatusCodes", [])) == sorted(codes),
                  f"retries on {policy.get('retryOn')} {policy.get('retriableStatusCodes', [])}, not {e.retry_on}",
                  concern="retries")
        self._cors(got, functools.partial(check, concern="cors"))
        if p.plaintext:
            check(got["chain"] is not None and got["chain"]["tls"] is None, "not on a plaintext chain")
        elif got["chain"] is not None:
            tls = got["chain"]["tls"] or {}
            check("h2" in tls.get("alpn", []), f"the TLS chain does not offer h2 by ALPN: {tls}", concern="tls")
            if p.certificate:
                check(tls.get("certificate_sds") == [p.certificate],
                      f"certificate {tls.get('certificate_sds')}, not {p.certificate}", concern="tls")
            if p.min_tls:
                check(tls.get("min_version") == p.min_tls, f"minimum TLS {tls.get('min_version')}, not {p.min_tls}",
                      concern="tls")
                check(tls.get("require_client_certificate") == p.client_certificate,
                      f"client certificate required: {tls.get('require_client_certificate')}, tls.mode "
                      f"{self.v['tls']['mode']}", concern="tls")
        if p.grpc_web:
            filters = got["http_filters"]
            check(filters.count("envoy.filters.http.grpc_web") == 1, f"grpc_web not once on the chain: {filters}",
                  concern="grpc_web")
            # Where Istio itself puts it on GRPC-WEB servers: ahead of CORS and the router, which
            # must see the translated call (listener_builder.go buildHTTPConnectionManager).
            check("envoy.filters.http.grpc_web" not in filters or all(
                  filters.index("envoy.filters.http.grpc_web") < filters.index(f)
                  for f in ("envoy.filters.http.cors", "envoy.filters.http.router") if f in filters),
                  f"grpc_web after CORS or the router: {filters}", concern="grpc_web")
        return out

    def _cors(self, got, check) -> None:
        web = self.v["grpcWeb"]
        cors = got["cors"]
        if not web["enabled"]:
            check(cors is None, f"CORS without gRPC-Web: {cors}")
            return
        check(cors is not None and cors.get("allowMethods") == "POST,OPTIONS", f"no gRPC-Web CORS on the route: {cors}")
        allowed = (cors or {}).get("allowOriginStringMatch", [])
        for o in web["cors"]["allowOrigins"]:
            if o == "*":
                continue
            m = {"exact": o} if isinstance(o, str) else dict(o)
            if "regex" in m:
                m = {"safeRegex": {"regex": m["regex"]}}
            check(m in allowed, f"origin {o} not allowed: {allowed}")
