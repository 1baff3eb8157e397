"""Ask Istio's own control-plane code about rendered manifests (the Go harness in tests/istio).

    istio = IstioHarness.from_env()                       # one per pytest session (ISTIO=1.30|1.31)
    res = istio.ask(render.stdout, install="classic", fixtures=world_for(render.docs, "classic"),
                    calls=[Call("greet", path="/helloworld.Greeter/SayHello", authority="grpc.example.com")])
    res.call("greet")["upstreams"][0]["protocol"]          # "h2"
    res.analysis_at_least("Warning")                       # [] when istioctl analyze is quiet
    res.refused()                                          # objects Istio's webhook refuses

What answers: Istio's validating webhook, its analyzers (istioctl analyze's set, with Services and
Pods kept) and istiod's xDS generation for the gateway pod, replayed by pilot/pkg/simulation.
Each distinct (manifests, fixtures, install, mesh config, calls) is answered once per session;
`run` (or `prefetch`) answers many in one harness process (Go start-up and Istio's init cost once).
With ISTIO_CACHE=<directory> (scripts/test sets one for its two Helm runs), sessions share
answers: the first to need a batch runs it, the other waits for it and reads it (the renders of
both Helms are byte-identical, so are the cases).
A missing harness binary is an error, never a skip: scripts/setup builds it.
"""
from __future__ import annotations

import copy
import fcntl
import functools
import hashlib
import json
import os
import subprocess
import tempfile
import threading
import time
from concurrent.futures import Future
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Iterable

import yaml


ROOT = Path(__file__).resolve().parents[2]
RELEASES = ("1.30", "1.31")
DEFAULT_RELEASE = "1.30"


def release() -> str:
    """The Istio release the suite asks: ISTIO=1.30 (default) or ISTIO=1.31."""
    r = os.environ.get("ISTIO", DEFAULT_RELEASE)
    if r not in RELEASES:
        raise HarnessError(f"ISTIO={r!r}: choose one of {', '.join(RELEASES)}")
    return r


def istio_source(binary: Path | None = None) -> Path:
    """The istio.io/istio module directory the harness was built from (its -print-istio-src)."""
    binary = binary or harness_binary()
    out = subprocess.run([str(binary), "-print-istio-src"], capture_output=True, text=True, timeout=60).stdout.strip()
    if not out or not Path(out, "manifests").is_dir():
        raise HarnessError(f"{binary} -print-istio-src gave {out!r}, not an istio.io/istio module directory: "
                           "rebuild the harness (scripts/istio-harness)")
    return Path(out)


@functools.cache
def istioctl_install(binary: Path | None = None) -> list[dict]:
    """What `istioctl install` applies for the ingress gateway with the default profile: the
    harness's TestIstioctl runs Istio's operator code (render.GenerateManifest in
    operator/pkg/render/manifest.go, which istioctl install and istioctl manifest generate
    call) and returns the IngressGateways component's objects (Deployment, Service...). Asked
    once per binary, shared through ISTIO_CACHE like the harness cases."""
    binary = binary or harness_binary()

    def generate(_: dict) -> dict:
        with tempfile.TemporaryDirectory(prefix="istioctl-") as tmp:
            out = Path(tmp, "out.json")
            proc = subprocess.run([str(binary), "-test.run", "^TestIstioctl$", "-istioctl-output", str(out)],
                                  capture_output=True, text=True, timeout=120, cwd=tmp, env=GO_ENV)
            if not out.exists():
                raise HarnessError(f"{binary} -test.run TestIstioctl wrote no output (exit {proc.returncode}): rebuild "
                                   f"the harness (scripts/istio-harness)\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}")
            return {"default": json.loads(out.read_text())["objects"]}

    return shared_between_sessions(binary, "istioctl:", {"default": None}, generate)[0]["default"]


def harness_binary() -> Path:
    """The harness the session runs: ISTIO_HARNESS, else scripts/setup's for ISTIO's release."""
    return Path(os.environ["ISTIO_HARNESS"]) if os.environ.get("ISTIO_HARNESS") else binary_path()


def once_per_session(cache: dict, lock: threading.Lock, keyed: list[tuple[str, object]], compute) -> list:
    """The answer for each (key, item), in order, each key computed once per session: the keys
    not asked yet (by any thread) go to one compute({key: item}) -> {key: answer} call, and
    threads asking a key already under way wait for it. A failed compute forgets its keys."""
    mine: dict[str, tuple[object, Future]] = {}
    with lock:
        futs = []
        for k, item in keyed:
            fut = cache.get(k)
            if fut is None:
                fut = cache[k] = Future()
                mine[k] = (item, fut)
            futs.append(fut)
    if mine:
        try:
            answers = compute({k: item for k, (item, _) in mine.items()})
            for k, (_, fut) in mine.items():
                fut.set_result(answers[k])
        except BaseException as e:  # keep waiters from hanging
            with lock:
                for k, (_, fut) in mine.items():
                    if not fut.done():
                        fut.set_exception(e)
                    cache.pop(k, None)
            raise
    return [f.result() for f in futs]


def shared_between_sessions(binary: Path, kind: str, items: dict[str, object], compute) -> tuple[dict, int]:
    """compute(items) -> {key: answer} (JSON), reading the answers another session left in
    ISTIO_CACHE (scripts/test's two Helm runs ask the same) and leaving its own there; kind
    keeps one binary's kinds of answer apart. One lock per batch: two sessions asking the same
    batch compute it once. Returns (answers, how many this session computed)."""
    shared_dir = os.environ.get("ISTIO_CACHE")
    if not shared_dir:
        return compute(items), len(items)
    d = Path(shared_dir)
    d.mkdir(parents=True, exist_ok=True)
    st = binary.stat()
    ident = f"{kind}{binary}:{st.st_size}:{st.st_mtime_ns}"
    files = {k: d / (hashlib.sha256((ident + k).encode()).hexdigest() + ".json") for k in items}
    missing = sorted(k for k, f in files.items() if not f.exists())
    todo: dict = {}
    if missing:
        lock = d / (hashlib.sha256((kind + "".join(missing)).encode()).hexdigest() + ".lock")
        with open(lock, "w") as held:
            fcntl.flock(held, fcntl.LOCK_EX)  # released when the file closes
            todo = {k: items[k] for k in missing if not files[k].exists()}
            if todo:
                for k, a in compute(todo).items():
                    tmp = files[k].with_suffix(f".{os.getpid()}.tmp")
                    tmp.write_text(json.dumps(a))
                    tmp.replace(files[k])
    return {k: json.loads(f.read_text()) for k, f in files.items()}, len(todo)


def binary_path(rel: str | None = None) -> Path:
    """Where scripts/setup puts the harness for a release."""
    return ROOT / ".tools" / "istio" / f"harness-{rel or release()}"


# Istio's config translation allocates freely and the harness lives seconds: at GOGC=400 the
# same 28 cases took 2.6-3.0 s of CPU against 3.7-4.2 s at Go's default 100, peak RSS 336 MiB
# (the machine has 24 GiB). Answers do not depend on it; GOGC set by the caller wins.
GO_ENV = {**os.environ, "GOGC": os.environ.get("GOGC", "400")}


class HarnessError(AssertionError):
    pass


# The gateway deployments the chart's output runs on (Service + one ready Pod, added by the
# harness), as Istio installs them; "values" is the chart's gateway.install for each:
# - classic: the istio-ingressgateway `istioctl install` puts in istio-system (default profile,
#   from manifests/charts/gateways/istio-ingress), labels istio: ingressgateway; its Service maps
#   80->8080 and 443->8443 (the pod listens on the targetPort);
# - gateway-chart: `helm install istio-ingress istio/gateway -n istio-ingress`, as Istio's docs
#   install it (manifests/charts/gateway: labels app: istio-ingress, istio: ingress from the
#   release name; Service ports bound as-is).
# test_istio_scenarios holds these entries to Istio's own output, from the module the harness
# was built from: istioctl's default profile rendered by Istio's operator code
# (istioctl_install) and the gateway chart rendered by the suite's Helm (STOCK_CHARTS).
STOCK_CHARTS = {  # install -> (chart directory in istio.io/istio, release, namespace)
    "gateway-chart": ("manifests/charts/gateway", "istio-ingress", "istio-ingress"),
}
INSTALLS: dict[str, dict] = {
    "classic": {
        "name": "istio-ingressgateway", "namespace": "istio-system", "pod_ip": "10.0.0.10",
        "labels": {"app": "istio-ingressgateway", "istio": "ingressgateway"},
        "ports": [{"name": "status-port", "port": 15021, "target_port": 15021},
                  {"name": "http2", "port": 80, "target_port": 8080},
                  {"name": "https", "port": 443, "target_port": 8443}],
    },
    "gateway-chart": {
        "name": "istio-ingress", "namespace": "istio-ingress", "pod_ip": "10.0.0.10",
        "labels": {"app": "istio-ingress", "istio": "ingress"},
        "ports": [{"name": "status-port", "port": 15021, "target_port": 15021},
                  {"name": "http2", "port": 80, "target_port": 80},
                  {"name": "https", "port": 443, "target_port": 443}],
    },
}
CHART_INSTALL = {"classic": "istioctl", "gateway-chart": "gateway-chart"}

GATEWAY_API_GROUP = "gateway.networking.k8s.io"  # the Gateway API's API group


def is_gateway_api(doc: dict) -> bool:
    return doc.get("apiVersion", "").startswith(GATEWAY_API_GROUP + "/")


def gateway_api_install(docs: list[dict], name: str = "", namespace: str = "", pod_ip: str = "10.0.0.10") -> dict:
    """The gateway Istio deploys for a Kubernetes Gateway (class istio) found in docs (by name,
    or the only one), as an install for IstioHarness.ask, read from what Istio's own deployment
    controller applies for it (deployed: pilot/pkg/config/kube/gatewaycommon/deploymentcontroller.go
    rendering manifests/charts/istio-control/istio-discovery/files/kube-gateway.yaml): the
    Service's name, ports and selector, and the labels of the Deployment's pods. No targetPort
    on a port means the pods bind the listener port itself. HarnessError, quoting Kubernetes'
    error text, when Kubernetes' own code refuses any object the controller applies (Deployed.refused)."""
    gw = _the_gateway(docs, name, namespace)
    (applied,) = deployed([gw])
    if applied.refused:
        raise HarnessError(f"Kubernetes refuses objects Istio's deployment controller applies for Gateway "
                           f"{gw['metadata']['name']!r}, so that gateway cannot be installed: " + "; ".join(applied.refusals()))
    svc = _one_applied(applied, "Service", gw)
    pods = _one_applied(applied, "Deployment", gw)["spec"]["template"]["metadata"]["labels"]
    ports = []
    for p in svc["spec"]["ports"]:
        target = p.get("targetPort", p["port"])
        if not isinstance(target, int):
            raise HarnessError(f"Istio's gateway Service names a targetPort ({target!r}); the harness takes numbers only")
        ports.append({"name": p["name"], "port": p["port"], "target_port": target, "app_protocol": p.get("appProtocol", "")})
    return {"name": svc["metadata"]["name"], "namespace": svc["metadata"].get("namespace") or gw["metadata"]["namespace"],
            "pod_ip": pod_ip, "labels": pods, "selector": svc["spec"]["selector"], "ports": ports}


def _the_gateway(docs: list[dict], name: str = "", namespace: str = "") -> dict:
    gws = [d for d in docs if is_gateway_api(d) and d["kind"] == "Gateway"
           and (not name or d["metadata"]["name"] == name)
           and (not namespace or d["metadata"].get("namespace", "default") == namespace)]
    if len(gws) != 1:
        raise HarnessError(f"gateway_api_install: {len(gws)} Gateways named {name or '(any)'} in the documents")
    gw = copy.deepcopy(gws[0])
    gw["metadata"].setdefault("namespace", "default")
    return gw


def prefetch_deployments(renders: Iterable[list[dict]]) -> None:
    """Ask Istio's deployment controller about the Gateway of each render (its documents) in one
    harness process, ahead of the gateway_api_install calls that read them."""
    deployed([_the_gateway(docs) for docs in renders])


def _one_applied(applied: list[dict], kind: str, gw: dict) -> dict:
    found = [o for o in applied if o.get("kind") == kind]
    if len(found) != 1:
        raise HarnessError(f"Istio's deployment controller applied {len(found)} {kind} objects for Gateway "
                           f"{gw['metadata']['name']}: {[o.get('kind') for o in applied]}")
    return found[0]


_DEPLOYED: dict[str, Future] = {}
_DEPLOYED_LOCK = threading.Lock()
DEPLOY_STATS = {"processes": 0, "gateways": 0}


class Deployed(list):
    """What Istio's deployment controller applied for one Gateway: the objects, in order (the list
    itself), and Kubernetes' own answer for them (the harness's kubernetesAnswer): .refused, one
    {kind, name, check, error, apply} per object Kubernetes refuses (check: "decode", its typed
    decoding of the object; "validate", its validation of the decoded object; "apply", server-side
    apply's typed conversion; error: Kubernetes' error text; apply: the conversion's text when it
    refuses too), and .warned, the unknown or duplicate fields its strict decoding reports (the
    API server's default answer to those is a warning)."""

    CHECKS = {"decode": "decoding", "validate": "validation", "apply": "server-side apply conversion"}

    def __init__(self, answer: dict):
        super().__init__(answer["applied"])
        self.refused: list[dict] = answer["refused"]
        self.warned: list[dict] = answer["warned"]

    def refusals(self) -> list[str]:
        """Each refusal in words, quoting Kubernetes' error text."""
        return [f"Kubernetes' own {self.CHECKS[r['check']]} of the {r['kind']} {r['name']} refuses it: {r['error']}"
                for r in self.refused]


def deployed(gateways: list[dict], binary: Path | None = None) -> list[Deployed]:
    """What Istio's deployment controller applies for each Gateway (the harness's TestDeploy:
    ServiceAccount, Deployment, Service...), with what Kubernetes' own code makes of each object
    (Deployed.refused, .warned), once per session and shared through ISTIO_CACHE like the harness
    cases; the Gateways not asked yet go to one harness process. binary defaults to the harness
    IstioHarness.from_env would run."""
    binary = binary or harness_binary()
    keys = [hashlib.sha256((str(binary) + json.dumps(g, sort_keys=True)).encode()).hexdigest() for g in gateways]
    answers = once_per_session(_DEPLOYED, _DEPLOYED_LOCK, list(zip(keys, gateways)),
                               lambda todo: shared_between_sessions(binary, "deploy:", todo, lambda t: _deploy(binary, t))[0])
    return [Deployed(a) for a in answers]


def _deploy(binary: Path, gateways: dict[str, dict]) -> dict[str, dict]:
    with tempfile.TemporaryDirectory(prefix="istio-deploy-") as tmp:
        inp, out = Path(tmp, "in.json"), Path(tmp, "out.json")
        # JSON is YAML: each Gateway as its own manifest.
        inp.write_text(json.dumps({"gateways": [{"id": k, "manifests": json.dumps(g)} for k, g in gateways.items()]}))
        proc = subprocess.run([str(binary), "-test.run", "^TestDeploy$", "-deploy-input", str(inp), "-deploy-output", str(out)],
                              capture_output=True, text=True, timeout=300, cwd=tmp, env=GO_ENV)
        if not out.exists():
            raise HarnessError(f"{binary} -test.run TestDeploy wrote no output (exit {proc.returncode}):\n"
                               f"{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}")
        data = json.loads(out.read_text())
    with _DEPLOYED_LOCK:
        DEPLOY_STATS["processes"] += 1
        DEPLOY_STATS["gateways"] += len(gateways)
    answers = {}
    for g in data["gateways"]:
        if g.get("error"):
            raise HarnessError(f"Istio's deployment controller, for Gateway {g['id']}: {g['error']}")
        if "refused" not in g:
            raise HarnessError(f"{binary} answers no Kubernetes refusals for the applied objects: rebuild the harness "
                               "(scripts/istio-harness)")
        answers[g["id"]] = {"applied": g["applied"], "refused": g["refused"], "warned": g["warned"]}
    return answers


def for_install(values: dict | None, install: str) -> dict:
    """values with gateway.install set for one of INSTALLS (the chart's switch for that install)."""
    values = dict(values or {})
    values["gateway"] = {**values.get("gateway", {}), "install": CHART_INSTALL[install]}
    return values


@dataclass(frozen=True)
class Call:
    """A client request through the gateway Service. port is the Service port the client dials;
    tls is "tls", "mtls" or "plaintext"; protocol "http2" (gRPC) or "http" (HTTP/1.1); sni
    defaults to the authority for TLS; alpn to h2 (http2) or http/1.1 (http) for TLS."""
    id: str
    path: str
    authority: str
    port: int = 443
    tls: str = "tls"
    protocol: str = "http2"
    alpn: str = ""
    sni: str = ""
    method: str = "POST"
    headers: tuple[tuple[str, str], ...] = ()

    def as_json(self) -> dict:
        d = asdict(self)
        d["headers"] = dict(self.headers)
        return d


def grpc(id: str, path: str, authority: str, port: int = 443, tls: bool = True, **kw) -> Call:
    """A gRPC call: HTTP/2, POST, content-type application/grpc."""
    return Call(id, path, authority, port=port, tls="tls" if tls else "plaintext",
                headers=(("content-type", "application/grpc"),), **kw)


def grpc_web(id: str, path: str, authority: str, origin: str, port: int = 443, tls: bool = True,
             preflight: bool = False, **kw) -> Call:
    """A browser's gRPC-Web call, or its CORS preflight (OPTIONS, no gRPC-Web content-type)."""
    if preflight:
        headers = (("origin", origin), ("access-control-request-method", "POST"),
                   ("access-control-request-headers", "content-type,x-grpc-web"))
        method = "OPTIONS"
    else:
        headers = (("origin", origin), ("content-type", "application/grpc-web+proto"), ("x-grpc-web", "1"))
        method = "POST"
    return Call(id, path, authority, port=port, tls="tls" if tls else "plaintext", method=method,
                headers=headers, **kw)


class Result:
    """The harness's answer for one case (see tests/istio/types.go for every field)."""

    def __init__(self, data: dict):
        self._data = data

    @property
    def data(self) -> dict:
        """The raw answer; reading a case the harness could not run raises HarnessError."""
        if self._data.get("error"):
            raise HarnessError(f"Istio's harness could not run case {self._data.get('id')}:\n{self._data['error']}")
        return self._data

    def call(self, id: str) -> dict:
        return self.calls[id]

    @property
    def calls(self) -> dict[str, dict]:
        return {c["id"]: c for c in self.data["calls"]}

    @property
    def analysis(self) -> list[dict]:
        if self.data.get("analysis_error"):
            raise HarnessError(f"Istio's analyzers failed: {self.data['analysis_error']}")
        return self.data["analysis"]

    def analysis_at_least(self, level: str = "Warning") -> list[dict]:
        """Analyzer messages of this level or worse (Info < Warning < Error)."""
        order = {"Info": 0, "Warning": 1, "Error": 2}
        return [m for m in self.analysis if order.get(m["level"], 2) >= order[level]]

    def codes(self) -> set[str]:
        return {m["code"] for m in self.analysis}

    @property
    def validation(self) -> list[dict]:
        return self.data["validation"]

    def refused(self, source: str = "manifests") -> list[dict]:
        """Objects Istio's validating webhook would refuse."""
        return [v for v in self.validation if v["source"] == source and not v["allowed"]]

    @property
    def listeners(self) -> list[dict]:
        return self.data["listeners"]

    def listener(self, port: int) -> dict | None:
        found = [l for l in self.listeners if l["port"] == port]
        return found[0] if found else None

    @property
    def clusters(self) -> list[str]:
        return self.data["clusters"]

    @property
    def xds_invalid(self) -> list[str]:
        return self.data["xds_invalid"]

    def sidecar(self, id: str) -> dict[str, dict]:
        """A sidecar's view of the clusters asked for: {cluster name: upstream info}."""
        (sc,) = [s for s in self.data["sidecars"] if s["id"] == id]
        return {c["name"]: c for c in sc["clusters"]}

    def ignored(self) -> list[dict]:
        return [o for o in self.data["objects"] if o["used"] == "ignored"]

    # --- Gateway API: what Istio's Gateway API controller made of the objects, and their status

    @property
    def gateway_api(self) -> dict:
        ga = self.data.get("gateway_api")
        if ga is None:
            raise HarnessError("the case has no Gateway API objects (or the harness predates them: run scripts/setup)")
        return ga

    def status(self, kind: str, name: str) -> dict:
        """The status Istio's controller writes on a Gateway API object ({} when none)."""
        found = [s["status"] for s in self.gateway_api["status"] if s["kind"] == kind and s["name"] == name]
        return found[0] if found else {}

    def conditions(self, kind: str, name: str) -> dict[str, dict]:
        """The object's top-level conditions by type."""
        return {c["type"]: c for c in self.status(kind, name).get("conditions") or []}

    def listener_conditions(self, gateway: str, listener: str) -> dict[str, dict]:
        ls = [l for l in self.status("Gateway", gateway).get("listeners") or [] if l["name"] == listener]
        return {c["type"]: c for c in ls[0]["conditions"]} if ls else {}

    def attached_routes(self, gateway: str) -> dict[str, int]:
        return {l["name"]: l["attachedRoutes"] for l in self.status("Gateway", gateway).get("listeners") or []}

    def route_conditions(self, kind: str, name: str) -> list[dict[str, dict]]:
        """One {type: condition} per parentRef of a route."""
        return [{c["type"]: c for c in p["conditions"]} for p in self.status(kind, name).get("parents") or []]

    def not_accepted(self) -> list[str]:
        """Every condition Istio's controller set on the case's Gateway, listeners and routes that
        says something is not accepted, programmed or resolved (Conflicted / PartiallyInvalid
        True; any other condition False), as 'Kind ns/name[/listener or parent]: Type=Status
        Reason: message'. GatewayClasses Istio creates itself are left out."""
        bad = {"Conflicted": "True", "PartiallyInvalid": "True"}
        out = []

        def check(where, conds):
            for c in conds or []:
                if c["status"] == bad.get(c["type"], "False"):
                    out.append(f"{where}: {c['type']}={c['status']} {c.get('reason')}: {c.get('message')}")

        for s in self.gateway_api["status"]:
            if s["kind"] == "GatewayClass":
                continue
            where = f"{s['kind']} {s['namespace']}/{s['name']}"
            check(where, s["status"].get("conditions"))
            for l in s["status"].get("listeners") or []:
                check(f"{where} listener {l['name']}", l["conditions"])
            for p in s["status"].get("parents") or []:
                check(f"{where} parent {p['parentRef'].get('name')}/{p['parentRef'].get('sectionName', '')}", p["conditions"])
        return out


@dataclass
class IstioHarness:
    binary: Path
    release: str
    processes: int = 0      # harness subprocesses run
    cases_run: int = 0      # distinct cases answered
    calls_run: int = 0      # calls replayed
    seconds: float = 0.0
    shared: int = 0         # cases another session answered (ISTIO_CACHE)
    istio_module: str = ""
    _cache: dict = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def from_env(cls) -> "IstioHarness":
        rel = release()
        path = harness_binary()
        if not os.access(path, os.X_OK):
            raise HarnessError(f"no Istio harness at {path}: run scripts/setup (ISTIO={rel}) to build it")
        return cls(binary=path, release=rel)

    @staticmethod
    def case(manifests: str, install: str | dict = "classic", fixtures: str = "", calls: Iterable[Call] = (),
             namespace: str = "default", mesh_config: str = "", analyze: bool = True, simulate: bool = True,
             sidecars: Iterable[dict] = ()) -> dict:
        """The harness input for one case (the key it is cached under). sidecars: mesh workloads
        ({id, namespace, labels, pod_ip, clusters}) whose view of those clusters is reported."""
        calls = list(calls)
        ids = [c.id for c in calls]
        if len(set(ids)) != len(ids):
            raise HarnessError(f"call ids must be unique: {ids}")
        return {
            "manifests": manifests, "fixtures": fixtures, "namespace": namespace,
            "install": INSTALLS[install] if isinstance(install, str) else install,
            "mesh_config": mesh_config, "calls": [c.as_json() for c in calls],
            "analyze": analyze, "simulate": simulate, "sidecars": list(sidecars),
        }

    @staticmethod
    def gateway_api_case(docs: list[dict], manifests: str = "", platform: list[dict] = (),
                         plain_ports: Iterable[str] = (), **kw) -> dict:
        """docs (Gateway API objects and the rest of a render) on the gateway Istio deploys for
        their Gateway (gateway_api_install), in the cluster they presume (world_for); manifests
        defaults to docs as YAML. platform: objects the cluster already has (a platform team's
        Gateway the routes attach to), which go into the fixtures and count for the install.
        plain_ports as for world_for; kw as for `case`."""
        platform = list(platform)
        install = gateway_api_install(docs + platform)
        fixtures = world_for(docs + platform, install, plain_ports=plain_ports)
        if platform:
            fixtures = yaml.safe_dump_all(platform, sort_keys=True) + "---\n" + fixtures
        return IstioHarness.case(manifests or yaml.safe_dump_all(docs, sort_keys=True), install=install,
                                 fixtures=fixtures, **kw)

    def ask(self, manifests: str, **kw) -> Result:
        """Answer one case (cached); see `case` for the arguments."""
        return self.run([self.case(manifests, **kw)])[0]

    def run(self, cases: list[dict]) -> list[Result]:
        """Answer many cases; the ones not answered yet this session go to one harness process."""
        keys = [hashlib.sha256(json.dumps(c, sort_keys=True).encode()).hexdigest() for c in cases]
        return [Result(a) for a in once_per_session(self._cache, self._lock, list(zip(keys, cases)), self._answer)]

    def prefetch(self, cases: list[dict]) -> None:
        """Answer cases ahead of the tests that read them, in one process."""
        self.run(cases)

    def _answer(self, cases: dict[str, dict]) -> dict[str, dict]:
        """Answers from ISTIO_CACHE where another session left them, the rest from the harness
        (left there in turn, with the module it was built from)."""
        shared_dir = os.environ.get("ISTIO_CACHE")

        def invoke(todo: dict[str, dict]) -> dict[str, dict]:
            answers = self._invoke(todo)
            if shared_dir:
                Path(shared_dir, "istio-module").write_text(self.istio_module)
            return answers

        answers, computed = shared_between_sessions(self.binary, "", cases, invoke)
        if shared_dir:
            with self._lock:
                self.shared += len(cases) - computed
                self.istio_module = self.istio_module or Path(shared_dir, "istio-module").read_text()
        return answers

    def _invoke(self, cases: dict[str, dict]) -> dict[str, dict]:
        with tempfile.TemporaryDirectory(prefix="istio-harness-") as tmp:
            inp, out = Path(tmp, "in.json"), Path(tmp, "out.json")
            inp.write_text(json.dumps({"cases": [dict(c, id=k) for k, c in cases.items()]}))
            t0 = time.monotonic()
            proc = subprocess.run([str(self.binary), "-test.run", "^TestHarness$", "-input", str(inp), "-output", str(out)],
                                  capture_output=True, text=True, timeout=900, cwd=tmp, env=GO_ENV)
            dt = time.monotonic() - t0
            if not out.exists():
                raise HarnessError(f"{self.binary} wrote no output (exit {proc.returncode}):\n"
                                   f"{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}")
            data = json.loads(out.read_text())
        with self._lock:
            self.processes += 1
            self.cases_run += len(cases)
            self.calls_run += sum(len(c["calls"]) for c in cases.values())
            self.seconds += dt
            self.istio_module = data["istio"]
        answers = {c["id"]: c for c in data["cases"]}
        for k in cases:
            if k not in answers:
                raise HarnessError(f"the harness gave no answer for a case (exit {proc.returncode}):\n{proc.stdout[-4000:]}")
            if answers[k].get("error"):
                answers[k]["error"] += f"\n--- harness log (exit {proc.returncode}) ---\n{proc.stdout[-3000:]}"
        return answers

    def summary(self) -> str:
        shared = f"; {self.shared} cases answered by the other run (ISTIO_CACHE)" if self.shared else ""
        return (f"istio harness: Istio {self.release} ({self.istio_module or 'not run'}); {self.processes} harness "
                f"processes; {self.cases_run} cases; {self.calls_run} calls; {self.seconds:.1f} s{shared}; "
                f"deployment controller: {DEPLOY_STATS['gateways']} Gateways in {DEPLOY_STATS['processes']} processes")


# --- the cluster around the chart's output -----------------------------------------------

def _host_ns(host: str, namespace: str) -> tuple[str, str]:
    """Service name and namespace of a VirtualService destination host (short names resolve in
    the VirtualService's namespace)."""
    parts = host.split(".")
    if len(parts) == 1:
        return parts[0], namespace
    return parts[0], parts[1]


def world_for(docs: list[dict], install: str | dict = "classic", plain_ports: Iterable[str] = (),
              shared_gateway_hosts: Iterable[str] = (), owner_subsets: dict[str, dict[str, dict]] | None = None) -> str:
    """The cluster the rendered manifests presume, as YAML: a Namespace per namespace used, a
    Service for every backend the VirtualServices route to that the render does not itself
    create (gRPC ports, appProtocol grpc, except hosts in plain_ports which get a port Istio
    cannot recognise), a ready Pod behind each (one per subset's labels), the TLS Secrets the
    Gateways reference (Istio Gateways: in the gateway pods' namespace; Gateway API listeners:
    where their certificateRefs say), the Services GRPCRoute/HTTPRoute backendRefs name, and, for
    a VirtualService bound to a Gateway the render does not create, that Gateway (hosts
    shared_gateway_hosts).
    owner_subsets: {destination host: {subset: labels}} defined by a DestinationRule of the
    service's owner (externalSubsets).
    Documents are written as JSON, so that no name reads as a YAML 1.1 boolean (y, n, on)."""
    inst = INSTALLS[install] if isinstance(install, str) else install
    plain = set(plain_ports)
    rendered = {(d["kind"], d["metadata"].get("namespace", "default"), d["metadata"]["name"]) for d in docs}
    out: list[dict] = []
    namespaces = {inst["namespace"]}
    services: dict[tuple[str, str], set] = {}  # (namespace, name) -> destination ports
    where: dict[str, tuple[str, str]] = {}  # destination host -> its Service's (namespace, name)
    subsets: dict[tuple[str, str], list[dict]] = {}
    for d in docs:
        ns = d["metadata"].get("namespace", "default")
        namespaces.add(ns)
        if d["kind"] == "VirtualService":
            for entry in d["spec"].get("http", []):
                for r in entry.get("route", []):
                    dest = r["destination"]
                    key = _host_ns(dest["host"], ns)[::-1]
                    services.setdefault(key, set()).add(dest["port"]["number"])
                    # as written, and as its FQDN (a DestinationRule elsewhere names it so)
                    where.setdefault(dest["host"], key)
                    where.setdefault(f"{key[1]}.{key[0]}.svc.cluster.local", key)
        if is_gateway_api(d) and d["kind"] in ("GRPCRoute", "HTTPRoute"):
            for rule in d["spec"].get("rules", []):
                for ref in rule.get("backendRefs", []):
                    if ref.get("group", "") == "" and ref.get("kind", "Service") == "Service":
                        key = (ref.get("namespace", ns), ref["name"])
                        services.setdefault(key, set()).add(ref["port"])
                        where.setdefault(f"{key[1]}.{key[0]}.svc.cluster.local", key)
    for d in docs:
        if d["kind"] == "DestinationRule":
            host = d["spec"]["host"]
            key = where.get(host) or _host_ns(host, d["metadata"].get("namespace", "default"))[::-1]
            subsets.setdefault(key, []).extend(s.get("labels", {}) for s in d["spec"].get("subsets", []))
    for host, subs in sorted((owner_subsets or {}).items()):
        sns, _ = where[host]
        out.append({"apiVersion": "networking.istio.io/v1", "kind": "DestinationRule",
                    "metadata": {"name": "owner-" + host.replace(".", "-")[:50], "namespace": sns},
                    "spec": {"host": host, "subsets": [{"name": k, "labels": v} for k, v in sorted(subs.items())]}})
        subsets.setdefault(where[host], []).extend(v for _, v in sorted(subs.items()))
    ip = 1
    for (sns, name), ports in sorted(services.items()):
        namespaces.add(sns)
        pod_name = name.replace(".", "-")[:50]
        selector = {"app": pod_name}
        if ("Service", sns, name) not in rendered:
            out.append({"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": sns},
                        "spec": {"selector": selector, "ports": [
                            {"name": f"grpc-{p}" if name not in plain else f"legacy-{p}", "port": p, "targetPort": p,
                             "protocol": "TCP", **({"appProtocol": "grpc"} if name not in plain else {})}
                            for p in sorted(ports)]}})
        else:
            svc = next(d for d in docs if d["kind"] == "Service" and d["metadata"]["name"] == name)
            selector = svc["spec"]["selector"]
        # A ready Pod behind the Service for each subset (the analyzers check that subsets select pods).
        for labels in subsets.get((sns, name)) or [{}]:
            out.append({"apiVersion": "v1", "kind": "Pod",
                        "metadata": {"name": f"{pod_name}-{ip}", "namespace": sns, "labels": {**selector, **labels}},
                        "spec": {"containers": [{"name": "app", "image": "example.com/app:1"}]},
                        "status": {"phase": "Running", "podIP": f"10.1.{ip // 250}.{ip % 250 + 1}",
                                   "podIPs": [{"ip": f"10.1.{ip // 250}.{ip % 250 + 1}"}],
                                   "conditions": [{"type": "Ready", "status": "True"}]}})
            ip += 1
    gw_ns = inst["namespace"]
    credentials = set()
    for d in docs:
        if d["kind"] == "Gateway" and d["apiVersion"].startswith("networking.istio.io"):
            for s in d["spec"]["servers"]:
                cn = (s.get("tls") or {}).get("credentialName")
                if cn:
                    credentials.add(cn)
    secrets = {(gw_ns, cn) for cn in credentials}
    for d in docs:
        # A Gateway API listener's certificateRefs name the Secret and its namespace (default:
        # the Gateway's); another namespace needs a ReferenceGrant, which is the render's job.
        if is_gateway_api(d) and d["kind"] == "Gateway":
            for l in d["spec"].get("listeners", []):
                for ref in (l.get("tls") or {}).get("certificateRefs", []):
                    if ref.get("kind", "Secret") == "Secret" and ref.get("group", "") == "":
                        secrets.add((ref.get("namespace", d["metadata"].get("namespace", "default")), ref["name"]))
    for sns, cn in sorted(secrets):
        namespaces.add(sns)
        if ("Secret", sns, cn) not in rendered:
            out.append({"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/tls",
                        "metadata": {"name": cn, "namespace": sns},
                        "data": {"tls.crt": _B64_CERT, "tls.key": _B64_KEY}})
    hosts = list(shared_gateway_hosts)
    for d in docs:
        if d["kind"] != "VirtualService":
            continue
        for ref in d["spec"].get("gateways", []):
            gns, _, gname = ref.partition("/") if "/" in ref else (d["metadata"]["namespace"], "", ref)
            if ("Gateway", gns, gname) in rendered or not hosts:
                continue
            namespaces.add(gns)
            out.append({"apiVersion": "networking.istio.io/v1", "kind": "Gateway",
                        "metadata": {"name": gname, "namespace": gns},
                        "spec": {"selector": dict(inst["labels"]), "servers": [
                            {"port": {"number": 443, "name": "https", "protocol": "HTTPS"}, "hosts": hosts,
                             "tls": {"mode": "SIMPLE", "credentialName": "shared-gateway-tls"}}]}})
            out.append({"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/tls",
                        "metadata": {"name": "shared-gateway-tls", "namespace": gw_ns},
                        "data": {"tls.crt": _B64_CERT, "tls.key": _B64_KEY}})
    for ns in sorted(namespaces):
        out.insert(0, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
    return "".join("---\n" + json.dumps(d, sort_keys=True) + "\n" for d in out)


# A self-signed test certificate (CN grpc.example.com, SANs grpc.example.com and *.example.com,
# valid until 2126) and its key, made for this suite only and trusted by nothing. Istio's Gateway
# API controller parses the certificate of every listener's certificateRef and refuses a malformed
# one (ResolvedRefs InvalidCertificateRef), so placeholder bytes will not do; the classic gateway
# and the analyzers only check that the Secret exists.
_B64_CERT = "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCk1JSUJ1akNDQVYrZ0F3SUJBZ0lVVENRanQxNlk0QWcyd2N5b3FqYTRVcGZ0b2Znd0NnWUlLb1pJemowRUF3SXcKR3pFWk1CY0dBMVVFQXd3UVozSndZeTVsZUdGdGNHeGxMbU52YlRBZ0Z3MHlOakV4TWpneE16TTFNemRhR0E4eQpNVEkyTVRFd05ERXpNelV6TjFvd0d6RVpNQmNHQTFVRUF3d1FaM0p3WXk1bGVHRnRjR3hsTG1OdmJUQlpNQk1HCkJ5cUdTTTQ5QWdFR0NDcUdTTTQ5QXdFSEEwSUFCTTc1ZzVXTmQvREJncHBpSjNUMXkzVzczZ3VTMUREdG1FY20KNG05eVEvcEpQVG1JNXZ5Um1pdnNWVkQ4amZBdk9mbklRT0poQ1prLzhzSnB5cHJGRFVlamZ6QjlNQjBHQTFVZApEZ1FXQkJRNG1XaHVZc0hJUll5VzZMS2cwZXFuQldKRDN6QWZCZ05WSFNNRUdEQVdnQlE0bVdodVlzSElSWXlXCjZMS2cwZXFuQldKRDN6QVBCZ05WSFJNQkFmOEVCVEFEQVFIL01Db0dBMVVkRVFRak1DR0NFR2R5Y0dNdVpYaGgKYlhCc1pTNWpiMjJDRFNvdVpYaGhiWEJzWlM1amIyMHdDZ1lJS29aSXpqMEVBd0lEU1FBd1JnSWhBS3FIdm5ITApzY2RDTlV6cUpqNS9yTm5WL1gzR0lURGpWWE5hL3FEa3hEbkZBaUVBOEFyaGFiWDJTckdKUXFSVjgxWXA2bW8rCndCc3lEWDJZNzFNemZLNkc3aW89Ci0tLS0tRU5EIENFUlRJRklDQVRFLS0tLS0K"
_B64_KEY = "LS0tLS1CRUdJTiBQUklWQVRFIEtFWS0tLS0tCk1JR0hBZ0VBTUJNR0J5cUdTTTQ5QWdFR0NDcUdTTTQ5QXdFSEJHMHdhd0lCQVFRZ1NTcHFzTnBJZDFVem1HZnIKbFozaFNEbXpsNmRYTWthU05xMDgyRERaT1V1aFJBTkNBQVRPK1lPVmpYZnd3WUthWWlkMDljdDF1OTRMa3RRdwo3WmhISnVKdmNrUDZTVDA1aU9iOGtab3I3RlZRL0kzd0x6bjV5RURpWVFtWlAvTENhY3FheFExSAotLS0tLUVORCBQUklWQVRFIEtFWS0tLS0tCg=="
