"""The repository's documents and tools: LICENSE, the README values reference generated from
values.yaml (scripts/readme-values), the helm scripts/helm picks (the suite and scripts/bench
ask it), and scripts/bench's smoke run."""
from __future__ import annotations

import hashlib
import json
import math
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from support.helm import HELM_SCRIPT, ROOT, HelmNotFound, copy_chart, find_helm

TOOLS_HELM = ROOT / ".tools/helm4/helm"
SYSTEM_PATH = "/usr/bin:/bin"  # bash, sed, dirname; no helm


def fake_helm(directory, version: str):
    """A helm that answers `version --short` with version and echoes anything else."""
    directory.mkdir(parents=True, exist_ok=True)
    helm = directory / "helm"
    helm.write_text('#!/bin/sh\nif [ "$1" = version ]; then echo "%s"; else echo "fake $*"; fi\n' % version)
    helm.chmod(0o755)
    return helm


def pick(script=HELM_SCRIPT, path=SYSTEM_PATH, helm_env=None, args=("--print-path",)):
    env = {k: v for k, v in os.environ.items() if k != "HELM"}
    env["PATH"] = path
    if helm_env is not None:
        env["HELM"] = str(helm_env)
    return subprocess.run([str(script), *args], capture_output=True, text=True, env=env, timeout=60)


@pytest.mark.parametrize("version", ["v4.0.0+gabc", "v3.17.0+gabc", "v3.18.2+gabc"])
def test_helm_on_path_is_used_when_it_is_helm_4_or_3_17_and_later(tmp_path, version):
    helm = fake_helm(tmp_path / "bin", version)
    proc = pick(path=f"{helm.parent}:{SYSTEM_PATH}")
    assert (proc.returncode, proc.stdout.strip()) == (0, str(helm)), proc.stderr


@pytest.mark.parametrize("version", ["v3.16.4+gabc", "v2.17.0+gabc", "not a version"])
def test_older_helm_on_path_gives_way_to_the_one_scripts_setup_installs(tmp_path, version):
    helm = fake_helm(tmp_path / "bin", version)
    proc = pick(path=f"{helm.parent}:{SYSTEM_PATH}")
    assert (proc.returncode, proc.stdout.strip()) == (0, str(TOOLS_HELM)), proc.stderr


def test_helm_variable_wins_whatever_its_version(tmp_path):
    on_path = fake_helm(tmp_path / "bin", "v4.1.0+gabc")
    chosen = fake_helm(tmp_path / "old", "v3.10.0+gabc")
    proc = pick(path=f"{on_path.parent}:{SYSTEM_PATH}", helm_env=chosen)
    assert (proc.returncode, proc.stdout.strip()) == (0, str(chosen)), proc.stderr


def test_arguments_go_to_the_chosen_helm(tmp_path):
    helm = fake_helm(tmp_path / "bin", "v4.1.0+gabc")
    proc = pick(helm_env=helm, args=("template", "x", "."))
    assert (proc.returncode, proc.stdout) == (0, "fake template x .\n"), proc.stderr


def test_no_usable_helm_is_a_clear_error(tmp_path):
    """A checkout without .tools/ and no helm on PATH: exit 2, saying what to do."""
    (tmp_path / "scripts").mkdir()
    script = shutil.copy2(HELM_SCRIPT, tmp_path / "scripts" / "helm")
    proc = pick(script=script)
    assert proc.returncode == 2 and proc.stdout == ""
    assert "run scripts/setup, or set HELM=/path/to/helm" in proc.stderr


def test_the_suite_uses_the_helm_scripts_helm_picks():
    binary, version = find_helm()
    assert binary == subprocess.run([str(HELM_SCRIPT), "--print-path"], capture_output=True, text=True).stdout.strip()
    assert version >= (3, 17, 0)


def test_a_helm_variable_naming_no_helm_stops_the_suite_with_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("HELM", str(tmp_path / "missing-helm"))
    find_helm.cache_clear()
    try:
        with pytest.raises(HelmNotFound, match="missing-helm.*set HELM=/path/to/helm"):
            find_helm()
    finally:
        monkeypatch.undo()
        find_helm.cache_clear()


# --- LICENSE -------------------------------------------------------------------------------

# sha256 of https://www.apache.org/licenses/LICENSE-2.0.txt (11,358 bytes, appendix included).
APACHE_2_0_SHA256 = "cfc7749b96f63bd31c3c42b5c471bf756814053e847c10f3eb003417bc523d30"


def test_scripts_test_runs_both_helms_sharing_one_istio_answer_directory(tmp_path):
    """scripts/test's two Helm runs render the same manifests, so they must share the harness's
    answers (ISTIO_CACHE, tests/support/istio.py): each Istio case is then asked once, not twice.
    Run against a fake python that records what each run was given."""
    shutil.copytree(ROOT / "scripts", tmp_path / "scripts")
    (tmp_path / ".venv/bin").mkdir(parents=True)
    python = tmp_path / ".venv/bin/python"
    python.write_text('#!/bin/sh\necho "HELM=$HELM ISTIO=${ISTIO:-} CACHE=${ISTIO_CACHE:-} ARGS=$*" >> "%s"\n'
                      % (tmp_path / "runs.log"))
    python.chmod(0o755)
    for h, v in (("helm4", "v4.1.4"), ("helm3", "v3.17.3")):
        fake_helm(tmp_path / ".tools" / h, v)
    proc = subprocess.run([str(tmp_path / "scripts/test")], capture_output=True, text=True, timeout=60,
                          env={**{k: v for k, v in os.environ.items() if k not in ("HELM", "ISTIO", "ISTIO_CACHE")},
                               "PROGRESS_EVERY": "1"})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    runs = (tmp_path / "runs.log").read_text().splitlines()
    helm_runs = [r for r in runs if "-m istio_release" not in r]
    assert sorted(re.search(r"HELM=\S*/(helm\d)/", r).group(1) for r in helm_runs) == ["helm3", "helm4"]
    caches = {re.search(r"CACHE=(\S*)", r).group(1) for r in helm_runs}
    assert len(caches) == 1 and caches != {""}, f"the Helm runs do not share one ISTIO_CACHE: {runs}"


def test_license_is_the_apache_2_0_text_chart_yaml_declares():
    chart = yaml.safe_load((ROOT / "Chart.yaml").read_text())
    assert chart["annotations"]["artifacthub.io/license"] == "Apache-2.0"
    text = (ROOT / "LICENSE").read_bytes()
    assert hashlib.sha256(text).hexdigest() == APACHE_2_0_SHA256, "LICENSE must be the Apache 2.0 text, unchanged"


# --- README: the Parameters section, generated from values.yaml ----------------------------

SCRIPT = ROOT / "scripts/readme-values"

VALUES = ROOT / "values.yaml"

README = ROOT / "README.md"

SKELETON = "# x\n\n## Parameters\n"

TAG = re.compile(r"^\s*##\s*@(param|extra|skip)\s+(\S+)\s*(\[[^\]]*\])?")


def readme_values(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([str(SCRIPT), *args], capture_output=True, text=True, timeout=120, cwd=cwd)


@pytest.fixture(scope="module")
def generated(tmp_path_factory) -> str:
    """The Parameters section as the generator writes it, on a skeleton README (independent
    of the real README.md, so these checks run even while README.md is being written)."""
    readme = tmp_path_factory.mktemp("readme") / "README.md"
    readme.write_text(SKELETON)
    proc = readme_values("--readme", str(readme))
    assert proc.returncode == 0, proc.stderr
    return readme.read_text()


def test_readme_parameters_section_is_current():
    assert README.exists(), "README.md is missing: it needs a '## Parameters' heading; then run scripts/readme-values"
    proc = readme_values("--check")
    assert proc.returncode == 0, f"README.md is stale or the generator failed; run scripts/readme-values\n{proc.stdout}{proc.stderr}"


def test_check_reports_a_stale_section_and_rewriting_fixes_it(tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text(SKELETON + "\n## License\n\nApache-2.0\n")
    stale = readme_values("--check", "--readme", str(readme))
    assert stale.returncode == 1, stale.stdout + stale.stderr
    assert "+| `tls.port`" in stale.stdout, "--check must print the diff"
    assert readme.read_text().startswith(SKELETON), "--check must not touch the README"

    fixed = readme_values("--readme", str(readme))
    assert fixed.returncode == 0, fixed.stderr
    text = readme.read_text()
    assert text.endswith("## License\n\nApache-2.0\n"), "the sections after Parameters must be kept"
    assert readme_values("--check", "--readme", str(readme)).returncode == 0, "regenerating must be idempotent"

    # A changed default makes the section stale again.
    values = tmp_path / "values.yaml"
    values.write_text(VALUES.read_text().replace("\n  port: 443\n", "\n  port: 8443\n", 1))
    assert values.read_text() != VALUES.read_text()
    changed = readme_values("--check", "--readme", str(readme), "--values", str(values))
    assert changed.returncode == 1
    assert re.search(r"^-\| `tls\.port` .*`443`", changed.stdout, re.M)
    assert re.search(r"^\+\| `tls\.port` .*`8443`", changed.stdout, re.M)


def test_generator_refuses_an_undocumented_value(tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text(SKELETON)
    values = tmp_path / "values.yaml"
    values.write_text(VALUES.read_text() + "\nundocumentedKey: 1\n")
    proc = readme_values("--readme", str(readme), "--values", str(values))
    assert proc.returncode == 2
    assert "Missing metadata for key: undocumentedKey" in proc.stderr
    assert readme.read_text() == SKELETON, "a failed run must leave the README alone"


def test_script_never_writes_the_values_schema(tmp_path):
    """The generator can emit a (weak) schema; the hand-written values.schema.json must
    survive a run byte for byte, and no other file may appear."""
    (tmp_path / "scripts").mkdir()
    shutil.copy2(SCRIPT, tmp_path / "scripts/readme-values")
    (tmp_path / "node_modules").symlink_to(ROOT / "node_modules")
    shutil.copy2(VALUES, tmp_path / "values.yaml")
    schema = (ROOT / "values.schema.json").read_bytes()
    (tmp_path / "values.schema.json").write_bytes(schema)
    (tmp_path / "README.md").write_text(SKELETON)
    before = sorted(p.name for p in tmp_path.iterdir())
    proc = subprocess.run([str(tmp_path / "scripts/readme-values")], capture_output=True, text=True, timeout=120,
                          cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "### Common parameters" in (tmp_path / "README.md").read_text()
    assert (tmp_path / "values.schema.json").read_bytes() == schema
    assert sorted(p.name for p in tmp_path.iterdir()) == before


def test_missing_parameters_heading_is_a_clear_error(tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text("# x\n\n## Usage\n")
    proc = readme_values("--readme", str(readme))
    assert proc.returncode == 2
    assert "'## Parameters' heading" in proc.stderr


def _leaves(node, path: str = ""):
    """Leaf keys the way the generator sees them: scalars, empty maps/lists and lists of
    scalars are leaves; lists of maps are entered as key[i]."""
    if isinstance(node, dict) and node:
        for k, v in node.items():
            yield from _leaves(v, f"{path}.{k}" if path else str(k))
    elif isinstance(node, list) and node and not all(isinstance(e, (str, int, float, bool)) for e in node):
        for i, v in enumerate(node):
            yield from _leaves(v, f"{path}[{i}]")
    else:
        yield path


def _lookup(values, name: str):
    cur = values
    for part in re.findall(r"[^.\[\]]+|\[\d+\]", name):
        if part.startswith("["):
            cur = cur[int(part[1:-1])]
        else:
            cur = cur[part]
    return cur


def _tags():
    tags, section = [], None
    for n, line in enumerate(VALUES.read_text().splitlines(), 1):
        if re.match(r"^\s*##\s*@section\s+\S", line):
            section = line
        m = TAG.match(line)
        if m:
            tags.append({"tag": m[1], "name": m[2], "modifiers": m[3], "line": n, "section": section})
    return tags


def test_every_param_names_a_value_and_every_value_has_a_param():
    values = yaml.safe_load(VALUES.read_text())
    tags = _tags()
    params = [t for t in tags if t["tag"] == "param"]
    names = [t["name"] for t in params]
    assert len(names) == len(set(names)), f"@param given twice: {sorted({n for n in names if names.count(n) > 1})}"

    leaves = set(_leaves(values))
    problems = []
    for t in tags:
        try:
            node = _lookup(values, t["name"])
        except (KeyError, IndexError, TypeError):
            problems.append(f"line {t['line']}: @{t['tag']} {t['name']} names no key of values.yaml")
            continue
        if t["tag"] == "param" and not t["modifiers"] and t["name"] not in leaves:
            problems.append(f"line {t['line']}: @param {t['name']} is an object ({type(node).__name__}); document its "
                            f"leaf keys, or use @extra for the object itself")
        if t["tag"] == "extra" and t["name"] in leaves:
            problems.append(f"line {t['line']}: @extra {t['name']} is a leaf; use @param")
        if t["tag"] == "param" and t["section"] is None:
            problems.append(f"line {t['line']}: @param {t['name']} comes before any @section, so the README omits it")

    covers = [t["name"] for t in tags if t["tag"] == "skip" or (t["tag"] == "param" and t["modifiers"])]
    for leaf in sorted(leaves):
        if leaf in names or any(leaf.startswith(c + ".") or leaf.startswith(c + "[") for c in covers):
            continue
        problems.append(f"{leaf}: no @param documents it")
    assert not problems, "\n".join(problems)


def test_generated_tables_cover_every_param(generated):
    rows = re.findall(r"^\| `([^`]+)` ", generated, re.M)
    params = {t["name"] for t in _tags() if t["tag"] in ("param", "extra")}
    assert set(rows) == params
    sections = re.findall(r"^## @section (.+)$", VALUES.read_text(), re.M)
    assert re.findall(r"^### (.+)$", generated, re.M) == sections


def test_generated_rows_have_three_cells(generated):
    section = generated.split("## Parameters", 1)[1]
    bad = [line for line in section.splitlines()
           if line.startswith("|") and len(re.findall(r"(?<!\\)\|", line)) != 4]
    assert not bad, "table rows with a stray '|' (escape it as \\|):\n" + "\n".join(bad)


# --- scripts/bench --quick -----------------------------------------------------------------

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

BENCH = os.path.join(REPO, "scripts", "bench")

QUICK_CASES = ("floor", "default", "routes-10")


def _number(x):
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


@pytest.mark.skipif(not shutil.which("valgrind"), reason="scripts/bench --instructions needs valgrind")
def test_bench_counts_instructions_the_same_twice(helm, tmp_path):
    """--instructions: the floor and the defaults, each counted twice (valgrind, one Go thread,
    no GC), agree to 2% (0.2-0.3% on a quiet machine; 0.6% seen while the other Helm's suite ran
    beside it: Go's runtime does a little timer-driven work), and the chart costs more than the floor. (Under Helm 4's run only:
    valgrind makes each count take seconds.)"""
    if helm.major != 4:
        pytest.skip("counted under the Helm 4 run")
    counts = []
    for i in range(2):
        out = tmp_path / f"instructions-{i}.json"
        proc = subprocess.run([sys.executable, BENCH, "--instructions", "--quick", "--helm", helm.binary, "--json", str(out)],
                              cwd=REPO, capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        data = json.loads(out.read_text())
        assert data["env"] == {"GOMAXPROCS": "1", "GOGC": "off"}
        counts.append(data["instructions"])
        assert "default / floor" in proc.stdout
    (a, b) = counts
    assert set(a) == {"floor", "default"}
    for case in a:
        assert abs(a[case] - b[case]) <= 0.02 * a[case], (case, a[case], b[case])
    assert 1 < a["default"] / a["floor"] < 5


@pytest.mark.skipif(not shutil.which("go"), reason="scripts/profile-templates builds with Go")
def test_profile_templates_times_each_include_and_each_file(helm):
    """scripts/profile-templates patches Helm 4's engine (the PATCHES must still apply to the
    pinned Helm) and lists, per render, every include and template file the defaults run: the
    model is built once, through its parts, and its time includes theirs. (Under Helm 4's run
    only: it builds on Helm 4's packages, not on the Helm under test.)"""
    if helm.major != 4:
        pytest.skip("run under the Helm 4 run")
    proc = subprocess.run([sys.executable, os.path.join(REPO, "scripts", "profile-templates"), "--renders", "2", "--top", "200"],
                          cwd=REPO, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    rows = {}
    for line in proc.stdout.splitlines():
        parts = line.split()
        if len(parts) == 5 and parts[0].startswith(("grpc-ingress.", "file:")):
            rows[parts[0]] = [float(x) for x in parts[1:]]
    # calls per render: the model's parts run once, the model is asked for by every template file
    for part in ("grpc-ingress.model.routes", "grpc-ingress.validate", "grpc-ingress.model.policies"):
        assert rows[part][0] == 1, (part, proc.stdout)
    files = [name for name in rows if name.startswith("file:")]
    assert "file:grpc-ingress/templates/virtualservice.yaml" in files
    assert rows["grpc-ingress.model"][0] == len(files)
    # inclusive time covers the parts the model includes
    assert rows["grpc-ingress.model"][2] >= rows["grpc-ingress.model.routes"][2] + rows["grpc-ingress.validate"][2]


def test_bench_quick_writes_well_formed_json(tmp_path):
    out = tmp_path / "bench.json"
    proc = subprocess.run(
        [sys.executable, BENCH, "--quick", "--json", str(out)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, f"scripts/bench failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
    assert out.is_file(), f"no JSON written:\n{proc.stdout}"
    data = json.loads(out.read_text())

    assert data["quick"] is True
    assert data["runs"] == 2 and data["warmup"] == 1

    version = data["helm"]["version"]
    assert isinstance(version, str) and version.startswith("v") and version[1:2].isdigit(), version
    assert isinstance(data["helm"]["path"], str) and data["helm"]["path"]

    cases = data["cases"]
    assert set(QUICK_CASES) <= set(cases), sorted(cases)
    for name in QUICK_CASES:
        case = cases[name]
        assert case["runs"] == 2, name
        s = case["seconds"]
        assert all(_number(s[k]) for k in ("min", "median", "max")), (name, s)
        assert 0 < s["min"] <= s["median"] <= s["max"], (name, s)
        assert len(s["samples"]) == case["runs"], (name, s)
        assert _number(case["ratio_to_floor"]) and case["ratio_to_floor"] > 0, (name, case["ratio_to_floor"])
        cpu = case["cpu_seconds"]
        assert 0 < cpu["min"] <= cpu["median"] <= cpu["max"] and len(cpu["samples"]) == case["runs"], (name, cpu)
        assert _number(case["cpu_ratio_to_floor"]) and case["cpu_ratio_to_floor"] > 0, (name, case["cpu_ratio_to_floor"])
        assert _number(data["ratios_to_floor"][name]) and data["ratios_to_floor"][name] > 0, name
        rss = case["rss_mib"]
        assert all(_number(rss[k]) for k in ("min", "median", "max")), (name, rss)
        assert 0 < rss["min"] <= rss["median"] <= rss["max"] == case["peak_rss_mib"], (name, rss)
        assert isinstance(case["documents"], int) and case["documents"] >= 0, name
    assert math.isclose(cases["floor"]["ratio_to_floor"], 1.0)
    assert cases["floor"]["documents"] == 1
    assert cases["routes-10"]["routes"] == 10

    # --quick has no 100/1,000-route cases, so no growth check; the reason says so.
    lin = data["linearity"]
    assert lin["available"] is False and lin["reason"]

    # Validator throughput: a figure, or unavailable with a reason (never a crash).
    v = data["validation"]
    assert isinstance(v["available"], bool)
    if v["available"]:
        assert isinstance(v["documents"], int) and v["documents"] > 0
        dps = v["docs_per_second"]
        assert all(_number(dps[k]) and dps[k] > 0 for k in ("min", "median", "max")), dps
        assert dps["min"] <= dps["median"] <= dps["max"], dps
        assert isinstance(v["findings"], int)
    else:
        assert isinstance(v["reason"], str) and v["reason"]


# --- README tells the truth about streams ---------------------------------------------------

def _blocks(text):
    """README's paragraphs, list items and table rows."""
    return [b for b in re.split(r"\n\s*\n|\n(?=[|-] )", text) if b.strip()]


def test_readme_never_says_a_connection_idle_timeout_keeps_streams_alive():
    """A connection idle timeout (streaming.idleTimeout) closes only connections with no open
    stream: wherever README names it, it says so, and no fix for cut streams relies on it alone."""
    text = README.read_text()
    mentions = [b for b in _blocks(text) if "streaming.idleTimeout" in b]
    assert mentions, "README documents streaming.idleTimeout"
    for b in mentions:
        assert re.search(r"no (open )?stream|no stream is open", b), b
    for row in (b for b in _blocks(text) if b.startswith("|") and re.search(r"stream.*(cut|dropped|die)", b)):
        fix = row.strip().strip("|").split("|")[-1]
        assert "streaming.idleTimeout" not in fix, row


def test_readme_defaults_table_states_the_retry_defaults_values_yaml_has():
    import yaml
    values = yaml.safe_load((ROOT / "values.yaml").read_text())
    section = README.read_text().split("## Defaults worth knowing", 1)[1].split("\n## ", 1)[0]
    for kind in ("unary", "streaming"):
        (row,) = [line for line in section.splitlines() if line.startswith(f"| {kind} route retries")]
        want = values["retries"][kind]
        assert f"`attempts: {want['attempts']}`" in row and f"`retryOn: {want['retryOn']}`" in row, row


def test_readme_upgrading_note_names_what_moved_and_what_changed_default():
    section = README.read_text().split("## Upgrading", 1)[1].split("\n## ", 1)[0]
    for needle in ("DestinationRules move", "gateway.workloadNamespace", "`grpcWeb.port` is 80",
                   "`retries.streaming.retryOn` is `connect-failure,refused-stream`", "listenerPort", "gateway.install"):
        assert needle in section, needle


# --- README's combined example (scripts/readme-example) -----------------------------------

def test_readme_combined_example_is_the_current_render():
    """README shows the render of ci/combined-values.yaml; a chart change that alters it makes
    this fail until scripts/readme-example is run."""
    proc = subprocess.run([str(ROOT / "scripts" / "readme-example"), "--check"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, f"README.md's combined example is stale; run scripts/readme-example\n{proc.stdout[-3000:]}{proc.stderr}"


def test_readme_example_check_notices_a_stale_copy(tmp_path):
    chart = tmp_path / "chart"
    copy_chart(chart, scripts=True)
    readme = chart / "README.md"
    readme.write_text(readme.read_text().replace("name: shop.example.com", "name: stale.example.com", 1)
                      .replace("- shop.example.com", "- stale.example.com", 1))
    env = {**os.environ, "HELM": find_helm()[0]}
    stale = subprocess.run([str(chart / "scripts" / "readme-example"), "--check"], capture_output=True, text=True, timeout=120, env=env)
    assert stale.returncode == 1 and "stale" in stale.stderr
    assert subprocess.run([str(chart / "scripts" / "readme-example")], timeout=120, env=env).returncode == 0
    assert subprocess.run([str(chart / "scripts" / "readme-example"), "--check"], timeout=120, env=env).returncode == 0
