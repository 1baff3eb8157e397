"""The scenario values files in ci/ (helm's chart-testing convention): ci_files() lists them,
load_ci(name_or_path) reads one, ci(helm, name) renders one; servers(render) and
server_by_name(render, name) read the Gateway's servers; grpc_web_filter(s) and
connection_filter(s) pick the chart's two EnvoyFilters apart."""
from __future__ import annotations

from pathlib import Path

import yaml

from support.helm import ROOT

CI_DIR = ROOT / "ci"


def ci_files() -> list[Path]:
    return sorted(CI_DIR.glob("*.yaml"))


def load_ci(path: Path | str) -> dict:
    """A ci/ values file by path or file name (load_ci("tls-values.yaml"))."""
    path = CI_DIR / path if isinstance(path, str) else path
    return yaml.safe_load(path.read_text()) or {}


SCENARIOS = {p.name: p for p in ci_files()}


def ci(helm, name, **kw):
    """The render of one ci/ file (ci(helm, "tls-values.yaml")); must succeed and validate."""
    return helm.render(load_ci(SCENARIOS[name]), **kw)


def servers(render):
    return render.one("Gateway")["spec"]["servers"]


def server_by_name(render, name):
    found = [s for s in servers(render) if s["port"]["name"] == name]
    assert len(found) == 1, f"no single server {name}: {servers(render)}"
    return found[0]


def _envoy_filters(render_or_docs):
    docs = render_or_docs if isinstance(render_or_docs, list) else render_or_docs.docs
    return [d for d in docs if d.get("kind") == "EnvoyFilter"]


def grpc_web_filters(render_or_docs):
    """The EnvoyFilters (of a render or a list of documents) that insert Envoy's grpc_web HTTP
    filter: the gRPC-Web patch."""
    return [ef for ef in _envoy_filters(render_or_docs)
            if any(p["patch"].get("value", {}).get("name") == "envoy.filters.http.grpc_web" for p in ef["spec"]["configPatches"])]


def grpc_web_filter(render_or_docs):
    (ef,) = grpc_web_filters(render_or_docs)
    return ef


def connection_filters(render_or_docs):
    """The EnvoyFilters that MERGE client connection settings (HTTP connection manager, listener)."""
    return [ef for ef in _envoy_filters(render_or_docs)
            if any(p["patch"]["operation"] == "MERGE" and p["applyTo"] in ("NETWORK_FILTER", "LISTENER")
                   for p in ef["spec"]["configPatches"])]


def connection_filter(render_or_docs):
    (ef,) = connection_filters(render_or_docs)
    return ef
