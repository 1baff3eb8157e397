"""Built-in Kubernetes kinds, checked with kubernetes_validate's strict schemas.

kubernetes_validate.validate() re-reads and re-parses the 1 MB _definitions.json on every
call; this module does the same lookup (same files, same Draft 2020-12 validator) but builds
each validator once, so thousands of documents validate in seconds. test_validators.py checks
that it agrees with kubernetes_validate.validate() itself.
"""
import json
import re
import threading

import importlib_resources
import jsonschema
import referencing

# Oldest (Chart.yaml kubeVersion >=1.25.0-0) and newest schema set the library ships.
KUBE_VERSIONS = ("1.25.0", "1.37.0")

_SCHEMAS = importlib_resources.files("kubernetes_validate") / "kubernetes-json-schema"
_OBJECT_META = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"


def _schema_file(api_version, kind):
    # The library's own naming: apps/v1 -> apps-v1, rbac.authorization.k8s.io/v1 -> rbac-v1.
    return "%s-%s.json" % (kind.lower(), re.sub(r"^([^./]*)(?:\.[^/]*)?/", r"\1-", api_version))


def fmt_path(path):
    """spec.containers[0].name: the path style of every validator's errors."""
    return "".join("[%d]" % p if isinstance(p, int) else ".%s" % p for p in path).lstrip(".") or "<root>"


class CoreValidator:
    def __init__(self, versions=KUBE_VERSIONS):
        self.versions = versions
        self._lock = threading.Lock()
        self._registries = {}  # version -> (schema dir, referencing.Registry)
        self._validators = {}  # (version, api_version, kind) -> validator or None

    def _registry(self, version):
        if version not in self._registries:
            directory = _SCHEMAS / ("v%s-local-strict" % version)
            definitions = json.loads((directory / "_definitions.json").read_text())
            registry = referencing.Resource.from_contents(definitions) @ referencing.Registry()
            self._registries[version] = (directory, registry)
        return self._registries[version]

    def _validator(self, version, api_version, kind):
        key = (version, api_version, kind)
        with self._lock:
            if key not in self._validators:
                directory, registry = self._registry(version)
                path = directory / _schema_file(api_version, kind)
                if kind == "__ObjectMeta__":
                    schema = {"$ref": "https://kubernetes.io/api/_definitions.json#/$defs/" + _OBJECT_META}
                elif path.is_file():
                    schema = json.loads(path.read_text())
                else:
                    schema = None
                self._validators[key] = schema and jsonschema.Draft202012Validator(schema, registry=registry)
            return self._validators[key]

    def knows(self, api_version, kind):
        """True if some supported Kubernetes version has a built-in schema for this kind."""
        return any(self._validator(v, api_version, kind) for v in self.versions)

    def validate(self, doc):
        """Errors of one document against every supported Kubernetes version (strict mode)."""
        return self._run(doc["apiVersion"], doc["kind"], doc, "")

    def validate_object_meta(self, metadata):
        """ObjectMeta of a custom resource: the API server checks it like any built-in's."""
        return self._run("", "__ObjectMeta__", metadata, "metadata.")

    def _run(self, api_version, kind, instance, prefix):
        found = {}  # message -> versions, so an error both versions report is listed once
        for version in self.versions:
            validator = self._validator(version, api_version, kind)
            if validator is None:
                messages = ["no schema for %s %s" % (api_version, kind)]
            else:
                messages = ["%s%s: %s" % (prefix, fmt_path(e.absolute_path), e.message)
                            for e in validator.iter_errors(instance)]
            for m in messages:
                found.setdefault(m, []).append(version)
        return ["%s (Kubernetes %s, strict)" % (m, ", ".join(v)) for m, v in found.items()]
