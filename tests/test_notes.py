"""NOTES.txt tells users how to verify, with the real hosts and ports. `helm template` does not
print NOTES and Helm 3's dry-run install wants a cluster, so a copy of the chart renders
NOTES.txt (itself a named template) into a ConfigMap, under both Helms."""
from __future__ import annotations

import shutil

import pytest

from support.helm import ROOT

WRAPPER = """apiVersion: v1
kind: ConfigMap
metadata:
  name: notes
data:
  notes: {{ include (print .Chart.Name "/templates/NOTES.txt") . | quote }}
"""


@pytest.fixture(scope="module")
def notes_chart(tmp_path_factory):
    chart = tmp_path_factory.mktemp("notes") / "grpc-ingress"
    shutil.copytree(ROOT, chart, ignore=shutil.ignore_patterns(".git", ".venv", ".tools", "node_modules", "tests", "scripts"))
    (chart / "templates" / "zz-notes.yaml").write_text(WRAPPER)
    return chart


def notes(helm, chart, values=None, **kw):
    return helm.render(values, chart=chart, **kw).one("ConfigMap", "notes")["data"]["notes"]


def test_tls_notes(helm, notes_chart):
    text = notes(helm, notes_chart, {"hosts": ["api.example.com"], "gateway": {"workloadNamespace": "edge"}}, namespace="apps")
    assert "grpcurl -authority api.example.com $GATEWAY:443 grpc.health.v1.Health/Check" in text
    assert "-insecure" in text and "-cacert" in text, "say what to do with a self-signed certificate"
    assert "-plaintext" not in text
    assert "grpc-ingress-tls must exist in namespace edge" in text
    assert "helm test grpc-ingress -n apps" in text


def test_h2c_notes(helm, notes_chart):
    text = notes(helm, notes_chart, {"tls": {"enabled": False}, "h2c": {"enabled": True, "port": 8080}})
    assert "grpcurl -plaintext -authority grpc.example.com $GATEWAY:8080 grpc.health.v1.Health/Check" in text
    assert "must exist in namespace" not in text, "no TLS secret to remind of"


def test_wildcard_host_notes_use_a_concrete_authority(helm, notes_chart):
    text = notes(helm, notes_chart, {"hosts": ["*.example.com"]})
    assert "-authority test.example.com" in text


def test_notes_stay_short(helm, notes_chart):
    assert len(notes(helm, notes_chart).splitlines()) <= 15
