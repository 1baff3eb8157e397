"""examples/argocd-application.yaml, rendered the way Argo CD's repo server renders it:
`helm template <chart> --name-template <releaseName or app name> --namespace <destination>
--kube-version <cluster> --api-versions <cluster APIs> --include-crds -f <valuesObject>`."""
from __future__ import annotations

import pytest
import yaml

from support.helm import ROOT

EXAMPLE = ROOT / "examples/argocd-application.yaml"
CLUSTER_APIS = ["networking.istio.io/v1", "networking.istio.io/v1alpha3", "cert-manager.io/v1"]


def argo_flags(apis=CLUSTER_APIS, skip_tests=False):
    flags = ["--kube-version", "1.30.0", "--include-crds"]
    for api in apis:
        flags += ["--api-versions", api]
    return flags + (["--skip-tests"] if skip_tests else [])


@pytest.fixture(scope="module")
def app() -> dict:
    return yaml.safe_load(EXAMPLE.read_text())


@pytest.fixture(scope="module")
def argo(app):
    """What Argo CD passes to helm for this Application."""
    spec = app["spec"]
    h = spec["source"].get("helm", {})
    return {
        "values": h.get("valuesObject"),
        "release": h.get("releaseName") or app["metadata"]["name"],
        "namespace": spec["destination"]["namespace"],
        "skip_tests": bool(h.get("skipTests")),
    }


@pytest.fixture(scope="module")
def rendered(helm, argo):
    return helm.render(argo["values"], release=argo["release"], namespace=argo["namespace"],
                       flags=argo_flags(skip_tests=argo["skip_tests"]))


def test_example_is_an_application_for_this_chart(app):
    assert app["apiVersion"] == "argoproj.io/v1alpha1"
    assert app["kind"] == "Application"
    src = app["spec"]["source"]
    assert src["path"] == ".", "the chart is the repository root"
    assert "chart" not in src, "a Git source takes path, not chart"
    assert src["repoURL"] and src["targetRevision"]
    h = src["helm"]
    assert isinstance(h["valuesObject"], dict) and h["valuesObject"], "valuesObject carries the values"
    assert "values" not in h and "parameters" not in h, "one values source keeps the example readable"
    dest = app["spec"]["destination"]
    assert dest["namespace"] and (dest.get("server") or dest.get("name"))
    sync = app["spec"]["syncPolicy"]
    assert sync["automated"]["prune"] is True and sync["automated"]["selfHeal"] is True
    assert "ServerSideApply=true" in sync["syncOptions"]


def test_release_name_equals_application_name(app, argo):
    """The chart labels everything app.kubernetes.io/instance: <release>; Argo CD's label
    tracking writes the Application name into that label, so the two must agree."""
    assert argo["release"] == app["metadata"]["name"]


def test_values_object_passes_the_schema_and_renders_its_config(rendered, argo):
    vo = argo["values"]
    vs = rendered.one("VirtualService")
    assert vs["spec"]["hosts"] == vo["hosts"]
    assert sorted(r["name"] for r in vs["spec"]["http"]) == sorted(r["name"] for r in vo["routes"])
    gw = rendered.one("Gateway")
    creds = {s["tls"]["credentialName"] for s in gw["spec"]["servers"] if "tls" in s}
    assert creds == {vo["tls"]["credentialName"]}
    for d in rendered.docs:
        assert d["metadata"]["labels"]["app.kubernetes.io/instance"] == argo["release"]


def test_misspelled_key_in_values_object_fails_the_render(helm, argo):
    """What an Argo CD user sees as a ComparisonError instead of a silently ignored key."""
    values = {**argo["values"], "tsl": {"credentialName": "x"}}
    helm.render_fails(values, match=["tsl"], release=argo["release"], namespace=argo["namespace"],
                      flags=argo_flags(skip_tests=argo["skip_tests"]))


def test_every_resource_names_its_namespace(rendered, argo):
    """Argo CD puts namespace-less resources in the destination namespace; the chart says
    where each one goes, and only the gateway workload namespace is added to it (the
    AppProject must allow both)."""
    work = argo["values"].get("gateway", {}).get("workloadNamespace", "istio-system")
    namespaces = {d["metadata"].get("namespace") for d in rendered.docs}
    assert None not in namespaces
    assert namespaces <= {argo["namespace"], work}
    assert rendered.one("Certificate")["metadata"]["namespace"] == work


def test_output_is_byte_identical_across_runs(helm, rendered, argo):
    """Argo CD re-renders on every refresh: any random or time-based output would make the
    app drift OutOfSync forever. The second render lists the cluster APIs in another order
    (same meaning, different cache key), so it is a second helm process."""
    before = helm.processes
    again = helm.render(argo["values"], release=argo["release"], namespace=argo["namespace"],
                        flags=argo_flags(apis=list(reversed(CLUSTER_APIS)), skip_tests=argo["skip_tests"]))
    assert helm.processes > before, "the second render must not come from the cache"
    assert again.stdout == rendered.stdout


def test_only_hook_is_the_helm_test_pod(rendered):
    """Argo CD maps install/upgrade/delete hooks onto its own sync phases and skips the rest,
    so any such hook would behave differently under Argo CD than under helm install."""
    hooked = []
    for d in rendered.docs:
        ann = d["metadata"].get("annotations") or {}
        assert not [k for k in ann if k.startswith("argocd.argoproj.io/hook")], \
            f"{d['kind']} {d['metadata']['name']}: an Argo CD hook makes Argo CD ignore every Helm hook"
        keys = {k for k in ann if k.startswith("helm.sh/hook")}
        if not keys:
            continue
        assert keys <= {"helm.sh/hook", "helm.sh/hook-delete-policy"}, \
            f"{d['kind']} {d['metadata']['name']}: unexpected hook annotations {sorted(keys)}"
        assert [h.strip() for h in ann["helm.sh/hook"].split(",")] == ["test"], \
            f"{d['kind']} {d['metadata']['name']}: hook {ann['helm.sh/hook']!r}"
        hooked.append((d["kind"], d["metadata"]["name"]))
    assert hooked, "the example keeps the helm test Pod, so this check has something to look at"
    assert hooked == [("Pod", p["metadata"]["name"]) for p in rendered.of_kind("Pod")], "every Pod is the test hook, and it is the only hook"


def test_no_crds_or_cluster_scoped_resources(rendered):
    """--include-crds (which Argo CD passes) adds nothing: the Istio and cert-manager CRDs
    belong to their own installs, and an app that owned them would prune them."""
    assert not rendered.of_kind("CustomResourceDefinition")
    assert all(d["metadata"].get("namespace") for d in rendered.docs)
