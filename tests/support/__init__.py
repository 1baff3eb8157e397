"""Test tooling for the grpc-ingress chart: the techniques the feature specs in tests/ use.

Importing this package loads nothing: each module is imported where it is needed (another
module, tests/support/istio.py, drives a live Istio control plane and must stay optional).

  helm         the real helm in a subprocess: cached renders, parsed and validated documents,
               error paths normalised across Helm 3 and Helm 4; find_helm asks scripts/helm
  scenarios    the ci/ scenario values files and Gateway server accessors
  values       small valid building blocks for values in tests
  bad_input    bad-value tables: rows -> params, assert_refused
  strategies   hypothesis strategies for valid values sets
  properties   @for_every_valid_values_set (_in_istio): one hypothesis run per session, every
               property on it; Istio's answer for each render from the harness
  istio        the Istio harness client: cases, calls, the cluster around a render (world_for)
  istio_checks what a scenario's call must do (Expect, broken_promises); ask_paths / reached;
               case_for (values on the gateway they presume, either API)
  probes       the helm test Pod's probes, read back from a render as the requests they send
  both_apis    one call's behaviour in terms both APIs share; DIFFERENCES, undocumented
  gateway_api  Gateway API renders: accessors, the ci variants, expressible (a values set's
               Gateway API form)
  istio_promises  what a values set promises a client, read from the values: Plan, its calls and
               checks of Istio's answer, the known bugs tolerated
  mutations    bad edits of valid values sets, and the schema walk they use
  injection    strings with YAML or template syntax in one key at a time, batched renders
  determinism  fresh renders, a scanner for nondeterministic template calls, key reordering
  validators   every rendered document checked against validators this project did not write
  summary      the counters behind the suite's last line

CONTRIBUTING.md shows how a new test uses them.
"""
