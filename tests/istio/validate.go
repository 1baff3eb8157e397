package harness

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"

	"istio.io/istio/pkg/config/schema/collections"
	"istio.io/istio/pkg/webhooks/validation/server"
)

// validator is Istio's own validating webhook (pkg/webhooks/validation/server), configured as
// istiod configures it (pilot/pkg/bootstrap/validation.go: Schemas PilotGatewayAPI), called
// in-process with the AdmissionReview the API server would send for a create.
type validator struct{ mux *http.ServeMux }

func newValidator() (*validator, error) {
	mux := http.NewServeMux()
	if _, err := server.New(server.Options{Schemas: collections.PilotGatewayAPI(), DomainSuffix: "cluster.local", Mux: mux}); err != nil {
		return nil, err
	}
	return &validator{mux: mux}, nil
}

func (v *validator) validate(d doc) ValidationResult {
	res := ValidationResult{Source: d.source, Kind: d.kind, Name: d.name, Namespace: d.namespace, Warnings: []string{}}
	review := map[string]any{
		"apiVersion": "admission.k8s.io/v1",
		"kind":       "AdmissionReview",
		"request": map[string]any{
			"uid":       "grpc-ingress-harness",
			"kind":      map[string]any{"group": d.group, "version": d.version, "kind": d.kind},
			"resource":  map[string]any{"group": d.group, "version": d.version, "resource": d.kind},
			"name":      d.name,
			"namespace": d.namespace,
			"operation": "CREATE",
			"object":    json.RawMessage(d.raw),
		},
	}
	body, _ := json.Marshal(review)
	req := httptest.NewRequest(http.MethodPost, "/validate", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	v.mux.ServeHTTP(rec, req)
	var out struct {
		Response struct {
			Allowed  bool     `json:"allowed"`
			Warnings []string `json:"warnings"`
			Status   struct {
				Message string `json:"message"`
			} `json:"status"`
		} `json:"response"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil {
		res.Message = fmt.Sprintf("webhook answered %d %q: %v", rec.Code, rec.Body.String(), err)
		return res
	}
	res.Allowed = out.Response.Allowed
	res.Message = out.Response.Status.Message
	if out.Response.Warnings != nil {
		res.Warnings = out.Response.Warnings
	}
	return res
}
