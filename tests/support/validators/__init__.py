"""Manifest validation run on every document of every render ("proof against the real thing").

    validator = ManifestValidator()          # one per pytest session, thread-safe
    errors = validator.validate(docs)        # [] when every document would be accepted
    validator.close()

What a document goes through:
- built-in kinds (v1, apps/v1, ...): kubernetes_validate's strict schemas (unknown fields
  rejected) for Kubernetes 1.25.0 and 1.37.0 (core.py);
- custom resources with a vendored CRD schema (crds/, written by scripts/vendor-crds):
  the @kubernetes-models validators in one long-lived Node.js process (node.py,
  crd_validate.mjs), the structural unknown-field walk, CEL rules and jsonschema on the real
  CRD schema (crd.py, cel.py; a kind a newer supported release extends passes when either
  release's schema accepts it), and ObjectMeta as the API server checks it;
- istio.io objects: Istio's own validating webhook (istio_webhook.py, the harness in tests/istio
  serving it), as istiod would admit them;
- any other kind is an error: there is nothing to prove it against;
- every document: the API-server and cert-manager rules no schema carries, and the chart's
  own policies (rules.py);
- across the documents: no two objects with the same group, kind, namespace and name.

Each distinct document is checked once per session (results are cached by content).

Errors read "<apiVersion> <Kind>/<name>: <field.path>: <the validator's message>".
Nothing is printed.
"""
from __future__ import annotations

import hashlib
import json
import threading
import time

from . import rules
from .core import KUBE_VERSIONS, CoreValidator
from .crd import load_schemas, prune_nulls
from .istio_webhook import IstioWebhook, is_istio
from .node import NodeValidator, NodeValidatorError

__all__ = ["ManifestValidator", "NodeValidatorError", "KUBE_VERSIONS"]


def _label(doc):
    meta = doc.get("metadata") if isinstance(doc.get("metadata"), dict) else {}
    return "%s %s/%s" % (doc.get("apiVersion", "<no apiVersion>"), doc.get("kind", "<no kind>"),
                         meta.get("name") or "<no name>")


def _digest(doc):
    """Content key of a document (None: not cacheable)."""
    if not isinstance(doc, dict):
        return None
    return hashlib.sha256(json.dumps(doc, sort_keys=True, default=str).encode()).digest()


def _duplicates(docs):
    """helm install fails on two objects with the same identity in one release."""
    errors, seen = [], {}
    for index, doc in enumerate(docs):
        if not isinstance(doc, dict):
            continue
        meta = doc.get("metadata") if isinstance(doc.get("metadata"), dict) else {}
        identity = (rules.group_of(str(doc.get("apiVersion", ""))), doc.get("kind"), meta.get("namespace"), meta.get("name"))
        if identity in seen:
            errors.append("%s: same group, kind, namespace and name as document %d; the install would fail"
                          % (_label(doc), seen[identity]))
        seen.setdefault(identity, index)
    return errors


class ManifestValidator:
    def __init__(self, kube_versions: tuple[str, ...] = KUBE_VERSIONS, node: str | None = None, cache: bool = True):
        self.kube_versions = tuple(kube_versions)
        self._core = CoreValidator(self.kube_versions)
        self._crds = load_schemas()
        self._node = NodeValidator(node)
        self._webhook = IstioWebhook()
        self._lock = threading.Lock()
        # Renders repeat documents (the same Service in many scenarios). A document's errors
        # depend only on its content, so each distinct document is checked once per session.
        self._cache = {}
        self._use_cache = cache  # off for benchmarks, which must measure real checking
        self.documents_validated = 0
        self.cache_hits = 0
        self.seconds = 0.0  # time spent in validate(), summed over all calls

    def validate(self, docs: list[dict]) -> list[str]:
        """Errors of a list of parsed YAML documents (one render); empty if all are valid."""
        started = time.perf_counter()
        keys = [_digest(doc) for doc in docs]
        per_doc, custom, hits = [], [], 0
        for index, (doc, key) in enumerate(zip(docs, keys)):
            cached = self._cache.get(key) if key is not None and self._use_cache else None
            hits += cached is not None
            per_doc.append(cached if cached is not None else self._check_one(doc, index, custom))
        if custom:
            results = self._node.validate([doc for _, doc in custom])
            for (index, doc), found in zip(custom, results):
                per_doc[index] = per_doc[index] + ["%s: %s (kubernetes-models)" % (_label(doc), e) for e in found]
            istio = [(index, doc) for index, doc in custom if is_istio(doc)]
            for (index, doc), found in zip(istio, self._webhook.check([doc for _, doc in istio])):
                per_doc[index] = per_doc[index] + ["%s: %s" % (_label(doc), e) for e in found]
        with self._lock:
            if len(self._cache) > 100_000:
                self._cache.clear()
            for key, errors in zip(keys, per_doc):
                if key is not None:
                    self._cache.setdefault(key, errors)
            self.documents_validated += len(docs)
            self.cache_hits += hits
            self.seconds += time.perf_counter() - started
        return [e for errors in per_doc for e in errors] + _duplicates(docs)

    def _check_one(self, doc, index, custom):
        """Errors of one document; a custom resource is also queued for the Node.js validators."""
        if not isinstance(doc, dict):
            return ["document %d: not a mapping: %s" % (index, type(doc).__name__)]
        label = _label(doc)
        if not isinstance(doc.get("apiVersion"), str) or not isinstance(doc.get("kind"), str):
            return [label + ": apiVersion and kind are required strings"]
        key = (doc["apiVersion"], doc["kind"])
        crd = self._crds.get(key)
        if crd is not None:
            doc = prune_nulls(doc)  # the API server drops nulls before validating a CR
            custom.append((index, doc))
            errors = crd.validate(doc) + self._core.validate_object_meta(doc.get("metadata") or {})
        elif self._core.knows(*key):
            errors = self._core.validate(doc)
        else:
            return ["%s: no validator for %s %s: not a built-in kind of Kubernetes %s and no vendored CRD schema "
                    "(tests/support/validators/crds, scripts/vendor-crds)" % (label, key[0], key[1], " / ".join(self.kube_versions))]
        return ["%s: %s" % (label, e) for e in errors + rules.check(doc)]

    def close(self) -> None:
        """Stops the Node.js and webhook processes; validate() would start new ones."""
        self._node.close()
        self._webhook.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
