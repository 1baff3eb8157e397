"""The README values reference is generated from values.yaml (scripts/readme-values) and
stays in step with it: every value documented, every @param a real value, the Parameters
section current."""
from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from support.helm import ROOT

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


# --- the real README ------------------------------------------------------------------

def test_readme_parameters_section_is_current():
    assert README.exists(), "README.md is missing: it needs a '## Parameters' heading; then run scripts/readme-values"
    proc = readme_values("--check")
    assert proc.returncode == 0, f"README.md is stale or the generator failed; run scripts/readme-values\n{proc.stdout}{proc.stderr}"


# --- the script -------------------------------------------------------------------------

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


# --- annotations against values.yaml -----------------------------------------------------

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
