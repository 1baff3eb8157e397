"""The packaged chart: what `helm package` puts in the archive (and leaves out), that the
archive renders exactly like the source tree, and the Chart.yaml metadata Artifact Hub and
`helm search` show."""
from __future__ import annotations

import fnmatch
import re
import tarfile
from pathlib import Path

import pytest
import yaml

from support.scenarios import ci_files, load_ci
from support.helm import ROOT

CHART = yaml.safe_load((ROOT / "Chart.yaml").read_text())
NAME = CHART["name"]

# Everything the archive may hold (paths below the chart directory).
ALLOWED = ["Chart.yaml", "Chart.lock", "values.yaml", "values.schema.json", "README.md", "LICENSE", ".helmignore",
           "templates/*"]
REQUIRED = ["Chart.yaml", "values.yaml", "values.schema.json", "README.md", "templates/NOTES.txt",
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


CASES = [None, "tls-values.yaml"]


@pytest.mark.parametrize("case", CASES, ids=["defaults", "ci-tls"])
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


# --- Chart.yaml metadata ------------------------------------------------------------------

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
