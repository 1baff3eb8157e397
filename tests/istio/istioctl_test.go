package harness

import (
	"flag"
	"testing"

	"istio.io/istio/operator/pkg/component"
	"istio.io/istio/operator/pkg/render"
)

// What `istioctl install` puts in the cluster for the ingress gateway with the default profile:
// Istio's own operator code renders it (render.GenerateManifest in operator/pkg/render/manifest.go,
// which `istioctl install` and `istioctl manifest generate` both call), from the profiles and
// charts compiled into the module (manifests.FS), with no IstioOperator file and no --set, as
// the operator's own tests call it (operator/cmd/mesh/manifest-generate_test.go).
// Run: BIN -test.run '^TestIstioctl$' -istioctl-output OUT.json

var istioctlOutput = flag.String("istioctl-output", "", "JSON file the default profile's ingress gateway objects are written to")

func TestIstioctl(t *testing.T) {
	if *istioctlOutput == "" {
		t.Skip("needs -istioctl-output")
	}
	sets, _, err := render.GenerateManifest(nil, nil, false, nil, nil)
	if err != nil {
		t.Fatalf("render.GenerateManifest (default profile): %v", err)
	}
	objects := []map[string]any{}
	for _, s := range sets {
		if s.Component != component.IngressComponentName {
			continue
		}
		for _, m := range s.Manifests {
			objects = append(objects, m.Object)
		}
	}
	if len(objects) == 0 {
		t.Fatalf("the default profile rendered no %s objects", component.IngressComponentName)
	}
	writeOutput(t, *istioctlOutput, map[string]any{"istio": istioModule, "profile": "default", "objects": objects})
}
