// Package harness answers questions about the chart's rendered output with Istio's own code:
// its validating webhook, its analyzers (what `istioctl analyze` runs) and its xDS generation
// replayed by pilot/pkg/simulation. It is a Go test because simulation.NewSimulation needs a
// real *testing.T. Build: go test -c -o BIN .  Run: BIN -test.run '^TestHarness$' -input IN.json -output OUT.json
// (tests/support/istio.py does both).
package harness

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"strings"
	"testing"

	istiolog "istio.io/istio/pkg/log"
)

var (
	inputPath  = flag.String("input", "", "JSON file with the cases (see types.go)")
	outputPath = flag.String("output", "", "JSON file the results are written to")
	// printSource prints the istio.io/istio module directory the harness was built from (its
	// charts and templates, read by the suite) and exits.
	printSource = flag.Bool("print-istio-src", false, "print the istio.io/istio module directory and exit")
	// webhookMode serves Istio's webhook on stdin/stdout instead (TestWebhook, webhook_test.go).
	webhookMode = flag.Bool("webhook", false, "serve Istio's validating webhook on stdin/stdout")
	// proxyVersion is the Istio version the simulated gateway proxy reports and istioModule the
	// istio.io/istio module version compiled in; scripts/setup sets both with -ldflags -X
	// (a test binary's build info lists no dependencies).
	proxyVersion = "1.30.0"
	istioModule  = "unknown"
)

func TestMain(m *testing.M) {
	flag.Parse()
	if *printSource {
		fmt.Println(istioSrc)
		os.Exit(0)
	}
	// Istio's components log at info level by default; only errors are worth reading here.
	o := istiolog.DefaultOptions()
	for _, s := range istiolog.Scopes() {
		o.SetDefaultOutputLevel(s.Name(), istiolog.ErrorLevel)
	}
	o.SetDefaultOutputLevel(istiolog.DefaultScopeName, istiolog.ErrorLevel)
	_ = istiolog.Configure(o)
	os.Exit(m.Run())
}

func TestHarness(t *testing.T) {
	if *inputPath == "" || *outputPath == "" {
		t.Skip("needs -input and -output")
	}
	var in Input
	readInput(t, *inputPath, &in)
	v, err := newValidator()
	if err != nil {
		t.Fatal(err)
	}
	out := Output{Istio: istioModule, Cases: []CaseResult{}}
	for i, c := range in.Cases {
		res := CaseResult{ID: c.ID}
		f := &failer{}
		name := c.ID
		if name == "" {
			name = fmt.Sprint(i)
		}
		t.Run(name, func(t *testing.T) {
			f.T = t
			runCase(t, f, v, c, &res)
		})
		if len(f.msgs) > 0 || (res.Error == "" && incomplete(res, c)) {
			res.Error = strings.Join(append(f.msgs, res.Error), "\n")
			if strings.TrimSpace(res.Error) == "" {
				res.Error = "the case stopped early; see the harness log"
			}
		}
		out.Cases = append(out.Cases, res)
	}
	writeOutput(t, *outputPath, out)
}

// readInput decodes the JSON file at path into v, refusing fields v does not have.
func readInput(t *testing.T, path string, v any) {
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(strings.NewReader(string(raw)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		t.Fatalf("input: %v", err)
	}
}

// writeOutput writes v to path as indented JSON.
func writeOutput(t *testing.T, path string, v any) {
	b, err := json.MarshalIndent(v, "", " ")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func incomplete(res CaseResult, c Case) bool {
	return on(c.Simulate) && len(res.Calls) != len(c.Calls)
}

func on(b *bool) bool { return b == nil || *b }

func runCase(t *testing.T, f *failer, v *validator, c Case, res *CaseResult) {
	res.Validation, res.Analysis, res.Calls = []ValidationResult{}, []AnalysisMessage{}, []CallResult{}
	res.Listeners, res.Clusters, res.XDSInvalid = []ListenerInfo{}, []string{}, []string{}
	res.Sidecars = []SidecarResult{}
	if c.Install.Name == "" || c.Install.Namespace == "" || c.Install.PodIP == "" || len(c.Install.Labels) == 0 {
		res.Error = "install needs name, namespace, labels and pod_ip"
		return
	}
	w, err := buildWorld(c)
	if err != nil {
		res.Error = err.Error()
		return
	}
	res.Objects = w.objects
	for _, d := range w.istioDocs {
		res.Validation = append(res.Validation, v.validate(d))
	}
	if on(c.Analyze) {
		msgs, err := analyze(w.analyzeYAML, c.MeshConfig)
		if err != nil {
			res.AnalysisError = err.Error()
		}
		if msgs != nil {
			res.Analysis = msgs
		}
	}
	if on(c.Simulate) {
		simulate(t, f, c, w, res)
	}
}
