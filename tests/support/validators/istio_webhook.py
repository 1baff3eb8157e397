"""Istio's own validating webhook on the istio.io objects of every render: the harness in
tests/istio serving pkg/webhooks/validation/server (TestWebhook) in one long-lived process.

    hook = IstioWebhook()                     # the harness of support.istio (ISTIO=1.30|1.31)
    hook.check([doc, ...])  -> [[error, ...] per doc]   ([] for a document Istio admits)
    hook.close()

A refusal is an error in Istio's words; so is a warning, but the one every EnvoyFilter draws
(support.istio_checks.ENVOYFILTER_WARNING): istiod warns where Envoy would ignore or misread
config (a filter named without typed_config, a deprecated field), and the chart writes none.
A missing harness is an error, never a skip: scripts/setup builds it.
"""
from __future__ import annotations

import json
import subprocess
import threading

ISTIO_GROUP_SUFFIX = "istio.io"


def is_istio(doc: dict) -> bool:
    """An object of an Istio API group: what Istio's webhook is registered for."""
    return str(doc.get("apiVersion", "")).rpartition("/")[0].endswith(ISTIO_GROUP_SUFFIX)


class IstioWebhook:
    def __init__(self, binary: str | None = None):
        self._binary = binary
        self._proc: subprocess.Popen | None = None
        self._lock = threading.Lock()
        self._next = 0

    def _start(self) -> subprocess.Popen:
        if self._binary is None:
            from support.istio import IstioHarness  # the binary for ISTIO=..., or ISTIO_HARNESS
            self._binary = str(IstioHarness.from_env().binary)
        return subprocess.Popen([self._binary, "-test.run", "^TestWebhook$", "-webhook"], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, bufsize=1)

    def check(self, docs: list[dict], namespace: str = "default") -> list[list[str]]:
        """Errors per document: Istio's refusal or warnings for istio.io ones, [] for the rest."""
        from support.istio_checks import ENVOYFILTER_WARNING

        wanted = [i for i, d in enumerate(docs) if is_istio(d)]
        out: list[list[str]] = [[] for _ in docs]
        if not wanted:
            return out
        # Raw characters: the Go YAML reader refuses JSON's surrogate-pair escapes (emoji).
        stream = "".join("---\n" + json.dumps(docs[i], ensure_ascii=False) + "\n" for i in wanted)
        with self._lock:
            if self._proc is None or self._proc.poll() is not None:
                self._proc = self._start()
            self._next += 1
            self._proc.stdin.write(json.dumps({"id": self._next, "manifests": stream, "namespace": namespace}) + "\n")
            self._proc.stdin.flush()
            while True:
                line = self._proc.stdout.readline()
                if not line:
                    raise RuntimeError(f"Istio's webhook ({self._binary}) exited (code {self._proc.wait()})")
                if line.startswith("@@webhook "):
                    answer = json.loads(line[len("@@webhook "):])
                    break
        if answer.get("error"):
            return [[f"Istio's webhook could not read the objects: {answer['error']}"] if i in wanted else []
                    for i in range(len(docs))]
        assert len(answer["results"]) == len(wanted), answer
        for i, r in zip(wanted, answer["results"]):
            if not r["allowed"]:
                out[i].append(f"Istio's webhook refuses it: {r['message']}")
            out[i] += [f"Istio's webhook warns: {w}" for w in r["warnings"] if w != ENVOYFILTER_WARNING]
        return out

    def close(self) -> None:
        with self._lock:
            if self._proc is not None:
                self._proc.stdin.close()
                try:
                    self._proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    self._proc.kill()
                    self._proc.wait()
                self._proc.stdout.close()
                self._proc = None
