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
import shutil
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


# A helm process lives about 0.1 s and most of its garbage is never reclaimed before it exits;
# Go's collector at its default (GOGC=100) spends a quarter of that CPU (measured: a default
# render 0.15-0.19 s of CPU against 0.10-0.13 s at GOGC=400). The suite runs ~2,000 of them per
# Helm, so it lets the heap grow 4x between collections (peak RSS of a 1,000-route render, far
# more than any test renders: 118 MiB on Helm 4, 148 MiB on Helm 3, against 86 and 97 at the
# default). The output does not depend on it; GOGC set by the caller wins.
_HELM_ENV = {**os.environ, "GOGC": os.environ.get("GOGC", "400")}


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


# `helm template` does not print NOTES.txt (helm install shows it), and Helm 3's dry-run install
# wants a cluster: a copy of the chart with this template (NOTES.txt is itself a named template)
# prints it into a ConfigMap, under both Helms (test_install_checks, scripts/compare-renders).
NOTES_WRAPPER = """apiVersion: v1
kind: ConfigMap
metadata:
  name: notes
data:
  notes: {{ include (print .Template.BasePath "/NOTES.txt") . | quote }}
"""


def copy_chart(dest: Path, scripts: bool = False) -> Path:
    """A copy of this chart at dest (which must not exist yet), for tests that change or wrap it:
    the chart's files without the repository's tooling (.git, .venv, .tools, node_modules) and
    tests, nor scripts unless asked for. Returns dest."""
    skip = [".git", ".venv", ".tools", "node_modules", "tests"] + ([] if scripts else ["scripts"])
    shutil.copytree(ROOT, dest, ignore=shutil.ignore_patterns(*skip))
    return dest


_PATH_SEGMENT = re.compile(r"\[(\d+)\]")


def normalize_paths(text: str) -> str:
    """Bring the ways Helm 3, Helm 4 and our templates write a value path to one form,
    routes.0.timeout: Helm 4 says at '/routes/0/timeout', Helm 3 says routes.0.timeout,
    templates say routes[0].timeout."""
    text = re.sub(r"at '(/[^']*)'", lambda m: "at " + m.group(1).strip("/").replace("/", "."), text)
    return _PATH_SEGMENT.sub(r".\1", text)


# How both Helms open a schema refusal, then one "<chart name>:" line per chart with errors.
_SCHEMA_HEADER = "Error: values don't meet the specifications of the schema(s) in the following chart(s):"
_ALIAS = "zz-grpc-ingress-batch-"  # alias prefix in prefetch_refusals; no error text says it


@functools.cache
def _chart_meta() -> dict:
    return yaml.load((ROOT / "Chart.yaml").read_text(), Loader=_LOADER)


def _schema_sections(stderr: str) -> dict[str, str] | None:
    """{alias: its error lines} of an umbrella's schema refusal; None if stderr is anything else."""
    if not stderr.startswith(_SCHEMA_HEADER + "\n"):
        return None
    sections: dict[str, str] = {}
    current = None
    for line in stderr[len(_SCHEMA_HEADER) + 1:].splitlines(keepends=True):
        if line.startswith(_ALIAS) and line.rstrip("\n").endswith(":") and " " not in line.strip():
            current = line.strip()[:-1]
            if current in sections:
                return None  # a name twice: not the shape this reads
            sections[current] = ""
        elif current is None:
            return None
        else:
            sections[current] += line
    return sections


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
    batched_refusals: int = 0  # renders answered by prefetch_refusals, not a process of their own
    _packaged: str | None = None
    _package_lock: threading.Lock = field(default_factory=threading.Lock)
    _cache: dict = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def major(self) -> int:
        return self.version[0]

    def run(self, args: list[str], cwd: Path | None = None) -> subprocess.CompletedProcess:
        """Any helm command; counted, not cached."""
        with self._lock:
            self.processes += 1
        return subprocess.run([self.binary, *args], capture_output=True, text=True, cwd=cwd, timeout=300, env=_HELM_ENV)

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
        key = self._key(values, set_, release, namespace, flags, chart)
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

    @staticmethod
    def _key(values, set_: tuple, release: str, namespace: str, flags: tuple, chart) -> tuple:
        """What the render cache files a render under (template and prefetch_refusals)."""
        return json.dumps(values, sort_keys=True), set_, release, namespace, flags, str(chart)

    def prefetch_refusals(self, values_sets: Iterable[dict], release: str = "grpc-ingress",
                          namespace: str = "default", batch: int = 40) -> int:
        """Render values the schema refuses many at a time; returns how many were answered.

        Helm checks a chart's dependencies against their own schemas before rendering anything
        and lists every dependency's errors under its name (ValidateAgainstSchema in
        pkg/chartutil, Helm 3 and 4): an umbrella chart with this chart as a dependency under
        an alias per values set (_ALIAS + number), given {alias: values set}, yields each set's
        schema errors in one process. Each is cached as the standalone render's result: the
        same header, the chart's name for the alias (test_support proves the texts agree). A set
        the schema accepts (a guess of support.injection.schema_refuses gone wrong, or a row the
        chart refuses) gets no answer here and renders alone when asked."""
        from support.injection import schema_refuses  # the Python reading of values.schema.json
        todo, seen = [], set()
        for values in values_sets:
            key = self._key(values, (), release, namespace, (), ROOT)
            with self._lock:
                if key in self._cache or key in seen or not schema_refuses(values):
                    continue
            seen.add(key)
            todo.append((key, values))
        answered = 0
        for i in range(0, len(todo), batch):
            answered += self._refusal_batch(todo[i:i + batch], release, namespace)
        return answered

    def _refusal_batch(self, todo: list, release: str, namespace: str) -> int:
        with tempfile.TemporaryDirectory(prefix="grpc-ingress-batch-") as tmp:
            names = [f"{_ALIAS}{i:04d}" for i in range(len(todo))]
            deps = "".join(f"- {{name: {_chart_meta()['name']}, version: \"{_chart_meta()['version']}\", "
                           f"alias: {n}}}\n" for n in names)
            Path(tmp, "Chart.yaml").write_text(f"apiVersion: v2\nname: batch\nversion: 0.0.0\ndependencies:\n{deps}")
            Path(tmp, "charts").mkdir()
            shutil.copy(self._package(), Path(tmp, "charts", "chart.tgz"))  # a link makes Helm 4 log a line
            Path(tmp, "values.json").write_text(values_json({n: v for n, (_, v) in zip(names, todo)}))
            proc = self.run(["template", release, tmp, "--namespace", namespace, "-f", str(Path(tmp, "values.json"))])
        sections = _schema_sections(proc.stderr) if proc.returncode != 0 and not proc.stdout.strip() else None
        if not sections:
            return 0
        answered = 0
        for name, (key, _) in zip(names, todo):
            if name not in sections:
                continue
            # cobra ends the message with a newline of its own: after the last chart's lines only.
            stderr = f"{_SCHEMA_HEADER}\n{_chart_meta()['name']}:\n{sections[name].rstrip(chr(10))}\n\n"
            fut: Future = Future()
            fut.set_result((proc.returncode, "", stderr, None, []))
            with self._lock:
                if key not in self._cache:
                    self._cache[key] = fut
                    self.batched_refusals += 1
                    answered += 1
        return answered

    def _package(self) -> str:
        """This chart as a .tgz, packaged once per session (the umbrella's dependency)."""
        with self._package_lock:  # not self._lock: run() takes that one
            if self._packaged is None:
                out = tempfile.mkdtemp(prefix="grpc-ingress-package-")
                proc = self.run(["package", str(ROOT), "--destination", out])
                if proc.returncode != 0:
                    raise RenderError(proc.stderr, ["package", str(ROOT)])
                self._packaged = str(next(Path(out).glob("*.tgz")))
            return self._packaged

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
