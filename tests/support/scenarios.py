"""The scenario values files in ci/ (helm's chart-testing convention): ci_files() lists them,
load_ci(name_or_path) reads one."""
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
