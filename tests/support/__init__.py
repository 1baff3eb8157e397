"""Test tooling for the grpc-ingress chart: the techniques the feature specs in tests/ use.

Importing this package loads nothing: each module is imported where it is needed (another
module, tests/support/istio.py, drives a live Istio control plane and must stay optional).

  helm        the real helm in a subprocess: cached renders, parsed documents, error paths
  scenarios   the ci/ scenario values files
  summary     the counters behind the suite's last line
  routing     what Istio does with a VirtualService's http list (which route serves a path)
  validators  every rendered document checked against validators this project did not write
"""
