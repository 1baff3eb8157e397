package harness

import (
	"os"
	"strings"

	"istio.io/istio/pkg/config/analysis/analyzers"
	"istio.io/istio/pkg/config/analysis/local"
)

// analyze runs every analyzer `istioctl analyze` has (analyzers.AllCombined) over the manifests,
// the fixtures and the gateway install, the way Istio's own analyzer tests do
// (pkg/config/analysis/analyzers/analyzers_test.go: NewSourceAnalyzer + AddTestReaderKubeSource).
// AddTestReaderKubeSource keeps Services, Pods, Secrets and Namespaces, which `istioctl analyze
// --use-kube=false` drops, so the gateway analyzers (IST0162 port not on the gateway Service,
// IST0101 missing secret, conflicting gateways) run too.
func analyze(yamls []string, meshConfigYAML string) ([]AnalysisMessage, error) {
	sa := local.NewSourceAnalyzer(analyzers.AllCombined(), "", "istio-system", nil)
	if meshConfigYAML != "" {
		if err := applyMeshConfig(sa, meshConfigYAML); err != nil {
			return nil, err
		}
	}
	src := []local.ReaderSource{{Name: "input", Reader: strings.NewReader(strings.Join(yamls, "\n---\n"))}}
	if err := sa.AddTestReaderKubeSource(src); err != nil {
		return nil, err
	}
	cancel := make(chan struct{})
	defer close(cancel)
	result, err := sa.Analyze(cancel)
	if err != nil {
		return nil, err
	}
	out := []AnalysisMessage{}
	for _, m := range result.Messages {
		u := m.Unstructured(true)
		origin, _ := u["origin"].(string)
		msg, _ := u["message"].(string)
		out = append(out, AnalysisMessage{
			Code: m.Type.Code(), Level: m.Type.Level().String(), Message: msg, Resource: origin, Text: m.String(),
		})
	}
	return out, nil
}

// applyMeshConfig gives the analyzers the same MeshConfig as the simulated istiod.
func applyMeshConfig(sa *local.IstiodAnalyzer, meshConfigYAML string) error {
	f, err := os.CreateTemp("", "meshconfig-*.yaml")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if _, err := f.WriteString(meshConfigYAML); err != nil {
		return err
	}
	f.Close()
	return sa.AddFileKubeMeshConfig(f.Name())
}
