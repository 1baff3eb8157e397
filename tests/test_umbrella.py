"""The chart as a dependency of an umbrella chart, twice: once under its own name and once
under an alias, each with its own values, Helm's injected `global`, and a condition."""
from __future__ import annotations

import tarfile
from collections import Counter
from pathlib import Path

import pytest
import yaml

from support.helm import ROOT

CHART = yaml.safe_load((ROOT / "Chart.yaml").read_text())
DEFAULTS = yaml.safe_load((ROOT / "values.yaml").read_text())
NS = "apps"
RELEASE = "platform"

PARENT_CHART = {
    "apiVersion": "v2",
    "name": "platform",
    "version": "1.0.0",
    "dependencies": [
        {"name": CHART["name"], "version": CHART["version"], "repository": f"file://{ROOT}",
         "condition": "grpc-ingress.enabled"},
        {"name": CHART["name"], "alias": "admin", "version": CHART["version"], "repository": f"file://{ROOT}",
         "condition": "admin.enabled"},
    ],
}

CORS = {"allowOrigins": ["https://app.example.com"]}
PARENT_VALUES = {
    "global": {"team": "platform", "imageRegistry": "registry.example.com", "labels": {"cost-center": "42"}},
    "grpc-ingress": {
        "enabled": True,
        "hosts": ["api.example.com"],
        "tls": {"credentialName": "api-tls"},
        "grpcWeb": {"enabled": True, "cors": CORS},
        "routes": [{"name": "greeter", "services": ["helloworld.Greeter"],
                    "backend": {"host": "greeter", "port": 50051}}],
    },
    "admin": {
        "enabled": True,
        "hosts": ["admin.example.com"],
        "gateway": {"name": "admin-gw"},
        "tls": {"credentialName": "admin-tls", "minProtocolVersion": "TLSV1_3"},
        "grpcWeb": {"enabled": True, "cors": CORS},
        "commonLabels": {"tier": "admin"},
        "routes": [{"name": "admin", "services": ["admin.v1.Admin"],
                    "backend": {"host": "admin-api.admin.svc.cluster.local", "port": 9090}}],
    },
}

INSTANCES = {"grpc-ingress": "grpc-ingress", "admin": "admin"}  # values key -> app.kubernetes.io/name


@pytest.fixture(scope="module")
def parent(helm, tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("umbrella") / "platform"
    (d / "templates").mkdir(parents=True)
    (d / "Chart.yaml").write_text(yaml.safe_dump(PARENT_CHART, sort_keys=False))
    (d / "values.yaml").write_text(yaml.safe_dump(PARENT_VALUES, sort_keys=False))
    proc = helm.run(["dependency", "build", str(d)])
    assert proc.returncode == 0, proc.stderr
    return d


def render(helm, parent, values=None, release=RELEASE):
    return helm.render(values, chart=parent, release=release, namespace=NS)


def instance(r, name):
    return [d for d in r.docs if d["metadata"]["labels"]["app.kubernetes.io/name"] == INSTANCES[name]]


def duplicates(docs):
    c = Counter((d["kind"], d["metadata"].get("namespace"), d["metadata"]["name"]) for d in docs)
    return [k for k, n in c.items() if n > 1]


def by_key(docs):
    return sorted(docs, key=lambda d: (d["kind"], d["metadata"].get("namespace", ""), d["metadata"]["name"]))


def test_dependency_build_packs_only_the_chart(parent):
    tgzs = list((parent / "charts").glob("*.tgz"))
    assert [t.name for t in tgzs] == [f"{CHART['name']}-{CHART['version']}.tgz"], "one archive serves both instances"
    with tarfile.open(tgzs[0]) as tar:
        names = [m.name.split("/", 1)[1] for m in tar.getmembers() if m.isfile()]
    assert "templates/tests/health-check.yaml" in names and "values.schema.json" in names
    leaked = [n for n in names if n.split("/")[0] in {"tests", "scripts", "ci", "examples", ".ci", "node_modules",
                                                       ".venv", ".tools", ".git", "package.json", "requirements.txt"}]
    assert not leaked, f"the dependency archive carries repository tooling: {leaked}"


def test_both_instances_render_with_their_own_values(helm, parent):
    r = render(helm, parent)
    assert {d["metadata"]["labels"]["app.kubernetes.io/name"] for d in r.docs} == set(INSTANCES.values())

    main = instance(r, "grpc-ingress")
    gw = next(d for d in main if d["kind"] == "Gateway")
    assert gw["metadata"]["name"] == f"{RELEASE}-grpc-ingress"
    assert gw["spec"]["servers"][0]["hosts"] == ["api.example.com"]
    assert gw["spec"]["servers"][0]["tls"]["credentialName"] == "api-tls"
    vs = next(d for d in main if d["kind"] == "VirtualService")
    assert vs["spec"]["hosts"] == ["api.example.com"]
    assert vs["spec"]["gateways"] == [f"{NS}/{RELEASE}-grpc-ingress"]
    assert [h["route"][0]["destination"]["host"] for h in vs["spec"]["http"]] == ["greeter"]

    admin = instance(r, "admin")
    gw = next(d for d in admin if d["kind"] == "Gateway")
    assert gw["metadata"]["name"] == "admin-gw"
    assert gw["spec"]["servers"][0]["hosts"] == ["admin.example.com"]
    assert gw["spec"]["servers"][0]["tls"]["credentialName"] == "admin-tls"
    assert gw["spec"]["servers"][0]["tls"]["minProtocolVersion"] == "TLSV1_3"
    vs = next(d for d in admin if d["kind"] == "VirtualService")
    assert vs["metadata"]["name"] == f"{RELEASE}-admin"
    assert vs["spec"]["hosts"] == ["admin.example.com"]
    assert vs["spec"]["gateways"] == [f"{NS}/admin-gw"]
    assert [h["route"][0]["destination"]["host"] for h in vs["spec"]["http"]] == ["admin-api.admin.svc.cluster.local"]
    assert all(d["metadata"]["labels"].get("tier") == "admin" for d in admin)
    assert not any("tier" in d["metadata"]["labels"] for d in main), "one instance's values leaked into the other"

    for docs in (main, admin):
        assert {d["kind"] for d in docs} >= {"Gateway", "VirtualService", "EnvoyFilter", "Pod"}
        assert all(d["metadata"]["labels"]["app.kubernetes.io/instance"] == RELEASE for d in docs)


@pytest.mark.parametrize("release", [RELEASE, "grpc-ingress", "admin", "x" * 53])
def test_instances_never_share_a_resource(helm, parent, release):
    r = render(helm, parent, release=release)
    assert len(instance(r, "grpc-ingress")) and len(instance(r, "admin"))
    assert not duplicates(r.docs), f"both instances render the same resources: {duplicates(r.docs)}"


def test_release_name_containing_both_chart_names(helm, parent):
    r = render(helm, parent, release="admin-grpc-ingress")
    assert not duplicates(r.docs), duplicates(r.docs)


def test_global_values_reach_the_instances_and_pass_their_schema(helm, parent):
    """Helm copies `global` into every subchart's values, so a subchart schema that
    refuses unknown top-level keys must still accept it, under the alias too."""
    r = render(helm, parent, {"global": {"anything": {"nested": [1, 2]}}})
    assert instance(r, "grpc-ingress") and instance(r, "admin")


def test_alias_values_are_still_checked_by_the_schema(helm, parent):
    helm.render_fails({"admin": {"tsl": {"mode": "SIMPLE"}}}, match=["tsl"], chart=parent, release=RELEASE,
                      namespace=NS)


@pytest.mark.parametrize("off,on", [("admin", "grpc-ingress"), ("grpc-ingress", "admin")])
def test_disabling_one_instance_removes_it_and_only_it(helm, parent, off, on):
    full = render(helm, parent)
    r = render(helm, parent, {off: {"enabled": False}})
    assert not instance(r, off)
    assert by_key(r.docs) == by_key(instance(full, on)), "the other instance must render exactly as before"


def test_disabling_both_renders_nothing(helm, parent):
    r = render(helm, parent, {"grpc-ingress": {"enabled": False}, "admin": {"enabled": False}})
    assert r.docs == []


def test_chart_created_certificates_get_instance_names(helm, parent):
    cm = {"credentialName": "", "certManager": {"enabled": True, "issuerRef": {"name": "letsencrypt"}}}
    r = render(helm, parent, {"grpc-ingress": {"tls": cm}, "admin": {"tls": cm}})
    certs = sorted(d["metadata"]["name"] for d in r.of_kind("Certificate"))
    assert certs == [f"{RELEASE}-admin-tls", f"{RELEASE}-grpc-ingress-tls"]
    assert not duplicates(r.docs)

