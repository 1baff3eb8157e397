package harness

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"testing"
)

// TestWebhook serves Istio's validating webhook to a long-lived client (the suite's manifest
// validator, tests/support/validators/istio_webhook.py), so that every render's istio.io
// objects are judged by Istio's own code rather than by hand-written copies of its rules.
// Run: BIN -test.run '^TestWebhook$' -webhook. Each stdin line is a WebhookRequest; each answer
// is one stdout line "@@webhook <WebhookResponse JSON>" (Istio may log other lines).
func TestWebhook(t *testing.T) {
	if !*webhookMode {
		t.Skip("needs -webhook")
	}
	v, err := newValidator()
	if err != nil {
		t.Fatal(err)
	}
	in := bufio.NewScanner(os.Stdin)
	in.Buffer(make([]byte, 1<<20), 64<<20)
	out := bufio.NewWriter(os.Stdout)
	for in.Scan() {
		var req WebhookRequest
		res := WebhookResponse{Results: []ValidationResult{}}
		if err := json.Unmarshal(in.Bytes(), &req); err != nil {
			res.Error = fmt.Sprintf("request: %v", err)
		} else {
			res.ID = req.ID
			docs, err := splitDocs("manifests", req.Manifests, req.Namespace)
			if err != nil {
				res.Error = err.Error()
			}
			for _, d := range docs {
				if d.istioKind() {
					res.Results = append(res.Results, v.validate(d))
				}
			}
		}
		b, _ := json.Marshal(res)
		fmt.Fprintf(out, "@@webhook %s\n", b)
		if err := out.Flush(); err != nil {
			t.Fatal(err)
		}
	}
	if err := in.Err(); err != nil {
		t.Fatal(err)
	}
}

// WebhookRequest is a YAML (or JSON) stream of objects; namespaced ones without a namespace get
// Namespace, as `helm install -n` would give them.
type WebhookRequest struct {
	ID        int    `json:"id"`
	Manifests string `json:"manifests"`
	Namespace string `json:"namespace"`
}

// WebhookResponse is Istio's webhook answer for each istio.io object of the request, in order.
type WebhookResponse struct {
	ID      int                `json:"id"`
	Error   string             `json:"error,omitempty"`
	Results []ValidationResult `json:"results"`
}
