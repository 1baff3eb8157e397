"""The Istio harness itself: what it does with objects Istio refuses or does not know, how it
fails, and that the mesh config reaches the simulated gateway."""
from __future__ import annotations

import copy

import pytest
import yaml

from support.istio import HarnessError, grpc, world_for


def test_webhook_refusal_is_reported_and_the_object_not_used(helm, istio):
    r = helm.render({"routes": [{"name": "g", "services": ["helloworld.Greeter"], "timeout": "10s",
                                 "backend": {"host": "greeter", "port": 50051}}]})
    docs = copy.deepcopy(r.docs)
    vs = next(d for d in docs if d["kind"] == "VirtualService")
    vs["spec"]["http"][0]["timeout"] = "0s"  # Istio refuses a route timeout under 1ms
    res = istio.ask(yaml.safe_dump_all(docs), fixtures=world_for(r.docs),
                    calls=[grpc("greet", "/helloworld.Greeter/SayHello", "grpc.example.com")])
    (refused,) = res.refused()
    assert refused["kind"] == "VirtualService" and "duration must be greater than 1ms" in refused["message"]
    assert {o["kind"]: o["used"] for o in res.data["objects"] if o["source"] == "manifests"}["VirtualService"] == "ignored"
    # istiod never stores what the webhook refuses: the gateway's virtual host for the server has
    # no route, and Envoy answers 404.
    assert res.call("greet")["error"] == "no route matched"


def test_kinds_istio_does_not_know_and_hooks_are_set_aside(helm, istio):
    r = helm.render({"tls": {"credentialName": "", "certManager": {
        "enabled": True, "issuerRef": {"name": "letsencrypt-prod", "kind": "ClusterIssuer"}}}})
    res = istio.ask(r.stdout, fixtures=world_for(r.docs), simulate=False)
    ignored = {(o["kind"], o["reason"].split(":")[0]) for o in res.ignored()}
    assert ("Certificate", "kind unknown to Istio") in ignored
    assert ("Pod", "helm hook") in ignored, "the helm test Pod is not created by helm install"


def test_input_istio_cannot_read_fails_loudly(istio):
    res = istio.ask("kind: [", calls=[])
    with pytest.raises(HarnessError, match="not YAML"):
        res.calls


@pytest.mark.istio_release
def test_edge_connection_profile_caps_quiet_streams(helm, istio):
    """Istio 1.31's opt-in EDGE profile (pilot/pkg/networking/core/connection_settings.go) gives
    gateways a 5-minute stream idle and request timeout: streams quiet or longer than that end,
    whatever the route says."""
    if istio.release != "1.31":
        pytest.skip("the EDGE connection profile is new in Istio 1.31: scripts/test asks it under ISTIO=1.31")
    # Without the chart's client connection EnvoyFilter, which turns both off on its chains
    # (test_connections checks that it does, under EDGE too).
    r = helm.render({"routes": [{"name": "s", "methods": ["chat.v1.Chat/Subscribe"], "streaming": True,
                                 "backend": {"host": "chat", "port": 50051}}],
                     "downstream": {"envoyFilter": {"enabled": False}}})
    call = grpc("subscribe", "/chat.v1.Chat/Subscribe", "grpc.example.com")
    plain, edge = istio.run([
        istio.case(r.stdout, fixtures=world_for(r.docs), calls=[call]),
        istio.case(r.stdout, fixtures=world_for(r.docs), calls=[call],
                   mesh_config="defaultConfig:\n  connectionSettings:\n    profile: EDGE\n")])
    assert plain.call("subscribe")["hcm"]["stream_idle_timeout"] == "0s"
    assert edge.call("subscribe")["hcm"]["stream_idle_timeout"] == "300s"
    assert edge.call("subscribe")["hcm"]["request_timeout"] == "300s"
