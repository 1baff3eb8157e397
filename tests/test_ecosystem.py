"""The chart among the tools around it: every ci/ scenario, chart-testing lint, the packaged
archive and Chart.yaml metadata, an umbrella chart with an alias, Argo CD, and rendering as a
pure function of the values (what GitOps tools rely on)."""
from __future__ import annotations

import fnmatch
import json
import random
import re
import tarfile
from collections import Counter
from pathlib import Path

import pytest
import yamale
import yaml
from yamllint import linter
from yamllint.config import YamlLintConfig

from support.determinism import REPEATS, TEMPLATES, nondeterministic_calls, reorder, template_fresh
from support.helm import ROOT
from support.validators.core import KUBE_VERSIONS
from support.scenarios import SCENARIOS, ci, ci_files, load_ci


# --- ci/ scenarios ---------------------------------------------------------------------------

@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_every_ci_scenario_renders_valid_manifests(helm, name):
    r = ci(helm, name)
    assert r.has("VirtualService")
    vs = r.one("VirtualService")
    assert vs["spec"]["http"], "a VirtualService with no routes serves nothing"

# --- chart-testing lint (helm lint --strict, yamllint, yamale) -----------------------------

CT = ROOT / "tests" / "ct"

LINTED = [ROOT / "Chart.yaml", ROOT / "values.yaml", *ci_files()]


@pytest.mark.parametrize("values_file", [None, *ci_files()], ids=lambda p: p.name if p else "defaults")
def test_helm_lint_strict(helm, values_file):
    args = ["lint", "--strict", str(ROOT)] + (["-f", str(values_file)] if values_file else [])
    proc = helm.run(args)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "0 chart(s) failed" in proc.stdout


@pytest.mark.parametrize("path", LINTED, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_yamllint_with_chart_testing_rules(path):
    conf = YamlLintConfig(file=str(CT / "lintconf.yaml"))
    problems = [f"{path.name}:{p.line}:{p.column} {p.rule} {p.message}"
                for p in linter.run(path.read_text(), conf) if p.level == "error"]
    assert not problems, "\n".join(problems)


def test_yamllint_rules_catch_a_planted_mistake():
    conf = YamlLintConfig(file=str(CT / "lintconf.yaml"))
    problems = list(linter.run("a: 1\na: 2\nb:  [ x ]   \n", conf))
    assert {p.rule for p in problems} >= {"key-duplicates", "brackets", "trailing-spaces"}


def test_chart_yaml_matches_chart_testing_schema():
    schema = yamale.make_schema(str(CT / "chart_schema.yaml"))
    data = yamale.make_data(str(ROOT / "Chart.yaml"))
    yamale.validate(schema, data, strict=True)


def test_chart_testing_schema_refuses_a_broken_chart_yaml(tmp_path):
    bad = tmp_path / "Chart.yaml"
    bad.write_text("name: x\nversion: 1.0.0\napiVersion: v2\nhome: h\ndescription: d\nmaintainers: [{email: a@b}]\n")
    with pytest.raises(yamale.YamaleError, match="maintainers"):
        yamale.validate(yamale.make_schema(str(CT / "chart_schema.yaml")), yamale.make_data(str(bad)), strict=True)


def test_kube_version_admits_the_oldest_kubernetes_the_suite_validates_against_and_readme_names():
    """Chart.yaml, the validators and README must agree on the oldest supported Kubernetes."""
    chart = yaml.safe_load((ROOT / "Chart.yaml").read_text())
    m = re.fullmatch(r">=(\d+)\.(\d+)\.0-0", chart["kubeVersion"])  # -0: also admits pre-releases (GKE's -gke.N)
    assert m, f"kubeVersion {chart['kubeVersion']!r}: a lower bound only, >=X.Y.0-0"
    oldest = min(tuple(int(x) for x in v.split(".")[:2]) for v in KUBE_VERSIONS)
    assert (int(m[1]), int(m[2])) == oldest, "the validators check the oldest Kubernetes Chart.yaml admits"
    assert f"Kubernetes >= {m[1]}.{m[2]}" in (ROOT / "README.md").read_text()


# --- the packaged chart --------------------------------------------------------------------

CHART = yaml.safe_load((ROOT / "Chart.yaml").read_text())

NAME = CHART["name"]

# Everything the archive may hold (paths below the chart directory).
ALLOWED = ["Chart.yaml", "Chart.lock", "values.yaml", "values.schema.json", "README.md", "LICENSE", ".helmignore",
           "templates/*"]

REQUIRED = ["Chart.yaml", "values.yaml", "values.schema.json", "README.md", "LICENSE", "templates/NOTES.txt",
            "templates/_helpers.tpl"]

FORBIDDEN_PREFIXES = ["tests/", "scripts/", "ci/", "examples/", ".ci/", "node_modules/", ".venv/", ".tools/", ".git/",
                      ".github/", ".hypothesis/", ".pytest_cache/"]

FORBIDDEN_FILES = ["package.json", "package-lock.json", "requirements.txt", ".gitignore"]


@pytest.fixture(scope="module")
def package(helm, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("package")
    proc = helm.run(["package", str(ROOT), "-d", str(out)])
    assert proc.returncode == 0, proc.stderr
    (tgz,) = out.glob("*.tgz")
    assert tgz.name == f"{NAME}-{CHART['version']}.tgz"
    return tgz


@pytest.fixture(scope="module")
def members(package) -> list[str]:
    with tarfile.open(package) as tar:
        names = [m.name for m in tar.getmembers() if m.isfile()]
    assert all(n.startswith(f"{NAME}/") for n in names), names
    return sorted(n.removeprefix(f"{NAME}/") for n in names)


def test_archive_holds_the_chart(members):
    missing = [f for f in REQUIRED if f not in members]
    assert not missing, f"missing from the package: {missing}"
    source_templates = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "templates").rglob("*") if p.is_file()
                              and not p.name.endswith((".swp", ".bak", ".tmp", ".orig", "~")))
    assert [m for m in members if m.startswith("templates/")] == source_templates
    assert any(m.startswith("templates/tests/") for m in members), "the helm test Pod template ships with the chart"


def test_archive_leaves_out_the_tooling(members):
    leaked = [m for m in members if any(m.startswith(p) for p in FORBIDDEN_PREFIXES) or m in FORBIDDEN_FILES
              or m.endswith((".tgz", ".pyc"))]
    assert not leaked, f".helmignore lets these into the package: {leaked}"
    unexpected = [m for m in members if not any(fnmatch.fnmatch(m, pat) for pat in ALLOWED)]
    assert not unexpected, f"files in the package that are not part of the chart: {unexpected}"


def test_archive_chart_yaml_is_the_source_one(package):
    with tarfile.open(package) as tar:
        packed = yaml.safe_load(tar.extractfile(f"{NAME}/Chart.yaml"))
    assert packed == CHART


PACKAGE_CASES = [None, "tls-values.yaml"]


@pytest.mark.parametrize("case", PACKAGE_CASES, ids=["defaults", "ci-tls"])
def test_archive_renders_like_the_source(helm, package, case):
    values = load_ci(ROOT / "ci" / case) if case else None
    if case:
        assert case in {p.name for p in ci_files()}
    src = helm.render(values)
    packed = helm.render(values, chart=package)
    assert packed.docs == src.docs
    assert packed.stdout == src.stdout


def test_archive_keeps_the_schema_in_force(helm, package):
    helm.render_fails({"tsl": {}}, match=["tsl"], chart=package)


# --- Chart.yaml metadata -------------------------------------------------------------------

URL = re.compile(r"^https://[^\s/]+\.[^\s]+$")

CHANGE_KINDS = {"added", "changed", "deprecated", "removed", "fixed", "security"}


def test_chart_identity():
    assert CHART["apiVersion"] == "v2"
    assert re.fullmatch(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?", NAME)
    assert re.fullmatch(r"\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?", CHART["version"]), "SemVer 2"
    assert isinstance(CHART["appVersion"], str), "quote appVersion, or YAML turns 1.30 into 1.3"
    assert CHART["type"] == "application"
    assert CHART.get("kubeVersion")


def test_chart_metadata_for_search_and_artifact_hub():
    desc = CHART.get("description", "")
    assert 20 <= len(desc) <= 300, "a one-sentence description (Artifact Hub and helm search show it)"
    kw = CHART.get("keywords")
    assert isinstance(kw, list) and kw and all(isinstance(k, str) and k.strip() for k in kw)
    assert len(kw) == len(set(kw))
    assert {"grpc", "istio"} <= set(kw)
    assert URL.match(CHART.get("home", "")), CHART.get("home")
    assert CHART.get("sources") and all(URL.match(s) for s in CHART["sources"])
    assert URL.match(CHART.get("icon", "")) and re.search(r"\.(svg|png)$", CHART["icon"])
    maint = CHART.get("maintainers")
    assert maint and all(m.get("name") for m in maint)
    assert all(m.get("email") or m.get("url") for m in maint), "maintainers need a way to be reached"
    assert all(set(m) <= {"name", "email", "url"} for m in maint)


def test_artifacthub_annotations():
    ann = CHART.get("annotations") or {}
    assert all(isinstance(v, str) for v in ann.values()), "Chart.yaml annotations are strings"
    assert re.fullmatch(r"[A-Za-z0-9.+-]+( (AND|OR) [A-Za-z0-9.+-]+)*", ann.get("artifacthub.io/license", "")), \
        "artifacthub.io/license: an SPDX identifier"
    changes = yaml.safe_load(ann["artifacthub.io/changes"])
    assert isinstance(changes, list) and changes
    for c in changes:
        assert isinstance(c, dict) and {"kind", "description"} <= set(c) <= {"kind", "description", "links"}, c
        assert c["kind"] in CHANGE_KINDS, c
        assert isinstance(c["description"], str) and c["description"].strip()
        for link in c.get("links", []):
            assert link.get("name") and URL.match(link.get("url", "")), link
    if "artifacthub.io/prerelease" in ann:
        assert ann["artifacthub.io/prerelease"] in ("true", "false")


# --- an umbrella chart: this chart twice, once under an alias ------------------------------

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
        "health": {"enabled": True, "backend": {"host": "greeter", "port": 50051}},  # for the helm test Pod
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
        "health": {"enabled": True, "backend": {"host": "admin-api.admin.svc.cluster.local", "port": 9090}},
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
    # What .helmignore keeps out: the packaged-chart tests below (helm dependency build packs the same way).

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
    assert [h["route"][0]["destination"]["host"] for h in vs["spec"]["http"]] == ["greeter", "greeter"]

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
    assert [h["route"][0]["destination"]["host"] for h in vs["spec"]["http"]] == ["admin-api.admin.svc.cluster.local"] * 2
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


# --- Argo CD: examples/argocd-application.yaml, rendered the way its repo server does ------

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
    assert "credentialName" not in vo["tls"], "README: leave credentialName empty with cert-manager"
    assert creds == {f"{argo['release']}-grpc-ingress-tls"} == {c["spec"]["secretName"] for c in rendered.of_kind("Certificate")}
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
        # hook-weight orders the test hooks (the protos ConfigMap before the Pod that mounts it)
        assert keys <= {"helm.sh/hook", "helm.sh/hook-delete-policy", "helm.sh/hook-weight"}, \
            f"{d['kind']} {d['metadata']['name']}: unexpected hook annotations {sorted(keys)}"
        assert [h.strip() for h in ann["helm.sh/hook"].split(",")] == ["test"], \
            f"{d['kind']} {d['metadata']['name']}: hook {ann['helm.sh/hook']!r}"
        hooked.append((d["kind"], d["metadata"]["name"]))
    assert hooked, "the example keeps the helm test Pod, so this check has something to look at"
    assert [h for h in hooked if h[0] == "Pod"] == [("Pod", p["metadata"]["name"]) for p in rendered.of_kind("Pod")], \
        "every Pod is a test hook"
    assert {k for k, _ in hooked} <= {"Pod", "ConfigMap"}, "only the test Pod and the protos it reads are hooks"


def test_no_crds_or_cluster_scoped_resources(rendered):
    """--include-crds (which Argo CD passes) adds nothing: the Istio and cert-manager CRDs
    belong to their own installs, and an app that owned them would prune them."""
    assert not rendered.of_kind("CustomResourceDefinition")
    assert all(d["metadata"].get("namespace") for d in rendered.docs)


# --- determinism: the same values give the same bytes --------------------------------------

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


DETERMINISM_CASES = {"defaults": None, **{p.name: load_ci(p) for p in ci_files()}, "routes-50": fifty_routes()}


@pytest.mark.parametrize("name", sorted(DETERMINISM_CASES))
def test_the_same_values_render_byte_identical_output(helm, name):
    values = DETERMINISM_CASES[name]
    first = helm.render(values).stdout  # cached and validated
    assert first.strip(), "nothing rendered"
    for _ in range(REPEATS):
        assert template_fresh(helm, values) == first, "a second render of the same values differs"


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


MANY_MAPS = {
    "commonLabels": {"team": "payments", "tier": "edge", "example.com/owner": "platform", "a": "1", "z": "2"},
    "commonAnnotations": {"example.com/runbook": "https://runbooks.example.com/grpc", "note": "x", "b": "y", "a": "z"},
    "hosts": ["a.example.com", "b.example.com", "c.example.com"],
    "gateway": {"selector": {"istio": "ingressgateway", "app": "edge-gateway", "zone": "a"}, "create": True,
                "servicePorts": {"443": 8443, "80": 8080, "8081": 8081}},
    "tls": {"mode": "MUTUAL", "externalCA": True, "subjectAltNames": ["spiffe://example.com/client"],
            "hosts": [{"credentialName": "a-tls", "hosts": ["a.example.com"]}],
            "certManager": {"enabled": True, "issuerRef": {"name": "ca", "kind": "Issuer"}, "duration": "2160h",
                            "renewBefore": "360h"}, "credentialName": "",
            "httpsRedirect": True, "redirectPort": 80},
    "h2c": {"port": 8081, "enabled": True},
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
