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
		ports = append(ports, map[string]any{"name": p.Name, "port": p.Port, "targetPort": p.TargetPort, "protocol": "TCP"})
	}
	svc := map[string]any{
		"apiVersion": "v1", "kind": "Service",
		"metadata": map[string]any{"name": in.Name, "namespace": in.Namespace, "labels": in.Labels},
		"spec":     map[string]any{"type": "LoadBalancer", "selector": in.Labels, "ports": ports},
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
	out := ""
	for _, o := range []any{svc, pod} {
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
