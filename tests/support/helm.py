"""A small helm-unittest-style harness: render the chart with the real helm binary and
read the parsed documents.

Every distinct (values, flags, helm) combination is rendered once per session (render
cache) and every document of every successful render is validated once (see
conftest.py, which installs the validator). Renders run in threads, so callers can
warm the cache in parallel.
"""
from __future__ import annotations

import functools
import json
import os
import re
import subprocess
import tempfile
import threading
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable

import yaml

ROOT = Path(__file__).resolve().parents[2]  # tests/support/helm.py -> the chart (repository root)
HELM_SCRIPT = ROOT / "scripts" / "helm"  # the one Helm discovery routine
# libyaml's safe loader when PyYAML has it: parsing renders is a large share of the suite's time.
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


_SURROGATE_PAIR = re.compile(r"\\u(d[89ab][0-9a-f]{2})\\u(d[c-f][0-9a-f]{2})")


def values_json(values) -> str:
    """JSON that helm's YAML reader loads back exactly: ASCII escapes (so control characters
    stay escaped), except characters outside the Basic Multilingual Plane, written raw:
    helm's reader refuses json.dumps's surrogate-pair escapes ("invalid Unicode character
    escape code"), so emoji would otherwise never reach the chart."""
    def join(m):
        return (chr(int(m.group(1), 16)) + chr(int(m.group(2), 16))).encode("utf-16", "surrogatepass").decode("utf-16")
    return _SURROGATE_PAIR.sub(join, json.dumps(values))


class HelmNotFound(RuntimeError):
    pass


def _version_of(binary: str) -> tuple[int, int, int] | None:
    try:
        out = subprocess.run([binary, "version", "--short"], capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.TimeoutExpired):
        return None
    m = re.search(r"v(\d+)\.(\d+)\.(\d+)", out)
    return tuple(int(x) for x in m.groups()) if m else None


@functools.cache
def find_helm() -> tuple[str, tuple[int, int, int]]:
    """(path, version) of the helm scripts/helm picks: HELM=/path wins, else helm on PATH when
    it is Helm 4 or Helm 3 >= 3.17, else the Helm 4 that scripts/setup installs under .tools/.
    The rule lives in scripts/helm only; this asks it (scripts/helm --print-path)."""
    proc = subprocess.run([str(HELM_SCRIPT), "--print-path"], capture_output=True, text=True, timeout=60)
    if proc.returncode != 0:
        raise HelmNotFound(proc.stderr.strip() or f"{HELM_SCRIPT} --print-path failed ({proc.returncode})")
    binary = proc.stdout.strip()
    version = _version_of(binary)
    if version is None:
        raise HelmNotFound(f"{binary} (from scripts/helm) does not answer `helm version --short`; "
                           "run scripts/setup or set HELM=/path/to/helm")
    return binary, version


_PATH_SEGMENT = re.compile(r"\[(\d+)\]")


def normalize_paths(text: str) -> str:
    """Bring the ways Helm 3, Helm 4 and our templates write a value path to one form,
    routes.0.timeout: Helm 4 says at '/routes/0/timeout', Helm 3 says routes.0.timeout,
    templates say routes[0].timeout."""
    text = re.sub(r"at '(/[^']*)'", lambda m: "at " + m.group(1).strip("/").replace("/", "."), text)
    return _PATH_SEGMENT.sub(r".\1", text)


class RenderError(AssertionError):
    def __init__(self, stderr: str, args_: list[str]):
        super().__init__(f"helm {' '.join(args_)} failed:\n{stderr}")
        self.stderr = stderr


@dataclass
class Render:
    docs: list[dict]
    stdout: str

    def kinds(self) -> list[str]:
        return [d["kind"] for d in self.docs]

    def of_kind(self, kind: str) -> list[dict]:
        return [d for d in self.docs if d.get("kind") == kind]

    def one(self, kind: str, name: str | None = None) -> dict:
        found = [d for d in self.of_kind(kind) if name is None or d["metadata"]["name"] == name]
        assert len(found) == 1, f"expected one {kind}{' ' + name if name else ''}, found {len(found)}: {self.kinds()}"
        return found[0]

    def has(self, kind: str) -> bool:
        return bool(self.of_kind(kind))


def get(doc: Any, path: str, default: Any = KeyError) -> Any:
    """Read a nested field: get(vs, "spec.http.0.match.0.uri.prefix")."""
    cur = doc
    for part in path.split("."):
        try:
            cur = cur[int(part)] if isinstance(cur, list) else cur[part]
        except (KeyError, IndexError, ValueError, TypeError):
            if default is KeyError:
                raise KeyError(f"{path}: no {part!r} in {json.dumps(cur)[:300]}") from None
            return default
    return cur


@dataclass
class Helm:
    binary: str
    version: tuple[int, int, int]
    validate: Callable[[list[dict]], list[str]] | None = None
    processes: int = 0
    documents_validated: int = 0
    _cache: dict = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def major(self) -> int:
        return self.version[0]

    def run(self, args: list[str], cwd: Path | None = None) -> subprocess.CompletedProcess:
        """Any helm command; counted, not cached."""
        with self._lock:
            self.processes += 1
        return subprocess.run([self.binary, *args], capture_output=True, text=True, cwd=cwd, timeout=300)

    def _template(self, values: dict | None, set_: tuple, release: str, namespace: str,
                  flags: tuple, chart: str) -> tuple[int, str, str, list[dict] | None, list[str]]:
        args = ["template", release, chart, "--namespace", namespace, *flags]
        for s in set_:
            args += ["--set", s]
        tmp = None
        if values is not None:
            tmp = tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False, encoding="utf-8")
            tmp.write(values_json(values))  # JSON is YAML, and it keeps strings exactly as given
            tmp.close()
            args += ["-f", tmp.name]
        try:
            proc = self.run(args)
        finally:
            if tmp:
                os.unlink(tmp.name)
        if proc.returncode != 0:
            return proc.returncode, proc.stdout, proc.stderr, None, []
        try:
            docs = [d for d in yaml.load_all(proc.stdout, Loader=_LOADER) if d]
        except yaml.YAMLError as e:
            return 0, proc.stdout, proc.stderr, None, [f"the output is not loadable YAML: {e}"]
        errors = self.validate(docs) if self.validate else []
        with self._lock:
            self.documents_validated += len(docs)
        return 0, proc.stdout, proc.stderr, docs, errors

    def template(self, values: dict | None = None, set: Iterable[str] = (), release: str = "grpc-ingress",
                 namespace: str = "default", flags: Iterable[str] = (), chart: str | Path = ROOT):
        """Cached `helm template`: (returncode, stdout, stderr, docs, validation errors)."""
        set_, flags = tuple(set), tuple(flags)
        key = (json.dumps(values, sort_keys=True), set_, release, namespace, flags, str(chart))
        with self._lock:
            fut = self._cache.get(key)
            owner = fut is None
            if owner:
                fut = self._cache[key] = Future()
        if owner:
            try:
                fut.set_result(self._template(values, set_, release, namespace, flags, str(chart)))
            except BaseException as e:  # keep waiters from hanging
                fut.set_exception(e)
        return fut.result()

    @property
    def distinct_renders(self) -> int:
        return len(self._cache)

    def render(self, values: dict | None = None, **kw) -> Render:
        """Render that must succeed and whose every document must pass the validators."""
        rc, out, err, docs, errors = self.template(values, **kw)
        if rc != 0:
            raise RenderError(err, ["template", json.dumps(values)[:500]])
        assert not errors, "rendered manifests refused by the validators:\n" + "\n".join(errors)
        return Render(docs, out)

    def render_fails(self, values: dict | None = None, match: str | Iterable[str] = (), **kw) -> str:
        """Render that must fail, printing no manifest (nothing half-valid); each `match` (a key
        path like routes.0.timeout, or a regex) must appear in the normalised error."""
        rc, out, err, docs, _ = self.template(values, **kw)
        assert rc != 0, f"expected helm template to fail for {json.dumps(values)[:400]}, but it rendered {len(docs or [])} documents"
        assert not out.strip(), f"a failed render printed manifests:\n{out[:400]}"
        text = normalize_paths(err)
        for m in [match] if isinstance(match, str) else match:
            assert re.search(m, text), f"error does not mention {m!r}:\n{err}"
        return err
