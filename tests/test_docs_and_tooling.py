"""The repository's own tools: which helm scripts/helm picks (the suite and scripts/bench ask it)."""
from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from support.helm import HELM_SCRIPT, ROOT, HelmNotFound, find_helm

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
