package harness

import (
	"encoding/json"
	"fmt"

	"sigs.k8s.io/yaml"
)

// installYAML is the gateway deployment the manifests run on: its Service (protocol TCP, as
// both the classic istio-ingressgateway and the istio/gateway chart write it) and one running,
// ready Pod whose proxy the harness simulates.
func installYAML(in Install) string {
	var ports []map[string]any
	for _, p := range in.Ports {
		sp := map[string]any{"name": p.Name, "port": p.Port, "targetPort": p.TargetPort, "protocol": "TCP"}
		if p.AppProtocol != "" {
			sp["appProtocol"] = p.AppProtocol
		}
		ports = append(ports, sp)
	}
	selector := in.Selector
	if selector == nil {
		selector = in.Labels
	}
	svc := map[string]any{
		"apiVersion": "v1", "kind": "Service",
		"metadata": map[string]any{"name": in.Name, "namespace": in.Namespace, "labels": in.Labels},
		"spec":     map[string]any{"type": "LoadBalancer", "selector": selector, "ports": ports},
	}
	var containerPorts []map[string]any
	for _, p := range in.Ports {
		containerPorts = append(containerPorts, map[string]any{"containerPort": p.TargetPort, "protocol": "TCP"})
	}
	pod := map[string]any{
		"apiVersion": "v1", "kind": "Pod",
		"metadata": map[string]any{"name": podName(in), "namespace": in.Namespace, "labels": in.Labels},
		"spec": map[string]any{"containers": []any{map[string]any{
			// The image injection resolves `image: auto` to (no injector runs here).
			"name": "istio-proxy", "image": "docker.io/istio/proxyv2:" + proxyVersion, "ports": containerPorts,
		}}},
		"status": map[string]any{
			"phase": "Running", "podIP": in.PodIP, "podIPs": []any{map[string]any{"ip": in.PodIP}},
			"conditions": []any{map[string]any{"type": "Ready", "status": "True"}},
		},
	}
	objs := []any{svc, pod}
	if in.Selector != nil {
		// The cloud's load balancer has given the Service an address: Istio's controller reports
		// the Gateway Programmed only then (gatewaycommon/context.go ResolveGatewayInstances:
		// "address pending" for a LoadBalancer Service without one).
		svc["status"] = map[string]any{"loadBalancer": map[string]any{"ingress": []any{map[string]any{"ip": "203.0.113.10"}}}}
		// A Gateway API deployment: Istio's Gateway API controller reads the gateway Service's
		// endpoints to program the Gateway (gatewaycommon/context.go ResolveGatewayInstances:
		// "no instances found for hostname" otherwise). No endpoint controller runs here, so the
		// EndpointSlice it would write is given.
		var epPorts []map[string]any
		for _, p := range in.Ports {
			epPorts = append(epPorts, map[string]any{"name": p.Name, "port": p.TargetPort, "protocol": "TCP"})
		}
		objs = append(objs, map[string]any{
			"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice", "addressType": "IPv4",
			"metadata": map[string]any{"name": in.Name + "-x2x9z", "namespace": in.Namespace,
				"labels": map[string]any{"kubernetes.io/service-name": in.Name, "endpointslice.kubernetes.io/managed-by": "endpointslice-controller.k8s.io"}},
			"endpoints": []any{map[string]any{
				"addresses":  []any{in.PodIP},
				"conditions": map[string]any{"ready": true, "serving": true, "terminating": false},
				"targetRef":  map[string]any{"kind": "Pod", "name": podName(in), "namespace": in.Namespace},
			}},
			"ports": epPorts,
		})
	}
	out := ""
	for _, o := range objs {
		j, _ := json.Marshal(o)
		y, _ := yaml.JSONToYAML(j)
		out += "---\n" + string(y)
	}
	return out
}

func podName(in Install) string {
	return fmt.Sprintf("%s-7d4f9c6b8-x2x9z", in.Name)
}

// bindPort is the port the gateway pod listens on for a client's Service port: the Service's
// targetPort (Kubernetes does this, not Istio). ok is false when the Service has no such port.
func bindPort(in Install, servicePort int) (int, bool) {
	for _, p := range in.Ports {
		if p.Port == servicePort {
			return p.TargetPort, true
		}
	}
	return 0, false
}
