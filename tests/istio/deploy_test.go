package harness

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	dynamicfake "k8s.io/client-go/dynamic/fake"
	clienttesting "k8s.io/client-go/testing"
	k8s "sigs.k8s.io/gateway-api/apis/v1"

	"istio.io/istio/pilot/pkg/config/kube/gatewaycommon"
	"istio.io/istio/pilot/pkg/model"
	"istio.io/istio/pkg/cluster"
	"istio.io/istio/pkg/config/mesh"
	"istio.io/istio/pkg/config/mesh/meshwatcher"
	"istio.io/istio/pkg/kube"
	"istio.io/istio/pkg/kube/inject"
	"istio.io/istio/pkg/kube/kclient"
	"istio.io/istio/pkg/revisions"
)

// What Istio's deployment controller makes for a Kubernetes Gateway: the Deployment, Service and
// the rest it applies (pilot/pkg/config/kube/gatewaycommon/deploymentcontroller.go), rendered
// from Istio's own kube-gateway.yaml template, as the controller's own test does
// (TestConfigureIstioGateway, deploymentcontroller_test.go: a fake cluster, the default mesh
// config, the injection templates parsed with inject.ParseTemplates). The controller's patcher
// field is unexported, so the fake dynamic client's patch reactor records what it applies.
// Run: BIN -test.run '^TestDeploy$' -deploy-input IN.json -deploy-output OUT.json

var (
	deployInput  = flag.String("deploy-input", "", "JSON file with the Gateways (DeployInput)")
	deployOutput = flag.String("deploy-output", "", "JSON file the applied objects are written to")
	// istioSrc is the istio.io/istio module directory the harness was built from (scripts/istio-harness
	// sets it with -ldflags -X): the kube-gateway.yaml template is read from there.
	istioSrc = ""
)

type DeployInput struct {
	Gateways []DeployCase `json:"gateways"`
}

type DeployCase struct {
	ID        string `json:"id"`
	Manifests string `json:"manifests"` // YAML; its one Gateway is deployed
}

type DeployResult struct {
	ID      string           `json:"id"`
	Applied []map[string]any `json:"applied"` // what the controller applied, in order (kind, metadata, spec)
	Error   string           `json:"error,omitempty"`
}

func TestDeploy(t *testing.T) {
	if *deployInput == "" || *deployOutput == "" {
		t.Skip("needs -deploy-input and -deploy-output")
	}
	var in DeployInput
	readInput(t, *deployInput, &in)
	tmplText, err := os.ReadFile(filepath.Join(istioSrc, "manifests/charts/istio-control/istio-discovery/files/kube-gateway.yaml"))
	if err != nil {
		t.Fatalf("Istio's kube-gateway.yaml (built with -X istioSrc=%q): %v", istioSrc, err)
	}
	out := []DeployResult{}
	for _, c := range in.Gateways {
		applied, err := deploy(c, string(tmplText))
		res := DeployResult{ID: c.ID, Applied: applied}
		if err != nil {
			res.Error = err.Error()
		}
		out = append(out, res)
	}
	writeOutput(t, *deployOutput, map[string]any{"istio": istioModule, "gateways": out})
}

func deploy(c DeployCase, tmplText string) ([]map[string]any, error) {
	docs, err := splitDocs("manifests", c.Manifests, "default")
	if err != nil {
		return nil, err
	}
	var gw *k8s.Gateway
	for _, d := range docs {
		if d.group == "gateway.networking.k8s.io" && d.kind == "Gateway" {
			if gw != nil {
				return nil, fmt.Errorf("more than one Gateway")
			}
			gw = &k8s.Gateway{}
			if err := json.Unmarshal(d.raw, gw); err != nil {
				return nil, err
			}
		}
	}
	if gw == nil {
		return nil, fmt.Errorf("no Gateway in the manifests")
	}
	client := kube.NewFakeClient(&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: gw.Namespace}})
	var mu sync.Mutex
	applied := []map[string]any{}
	// Server-side apply is what the controller's patcher sends (its field is unexported); record it.
	client.Dynamic().(*dynamicfake.FakeDynamicClient).PrependReactor("patch", "*",
		func(a clienttesting.Action) (bool, runtime.Object, error) {
			p := a.(clienttesting.PatchAction)
			var m map[string]any
			if err := json.Unmarshal(p.GetPatch(), &m); err == nil && p.GetSubresource() == "" {
				mu.Lock()
				applied = append(applied, m)
				mu.Unlock()
			}
			return true, nil, nil
		})
	if _, err := kclient.NewWriteClient[*k8s.Gateway](client).Create(gw.DeepCopy()); err != nil {
		return nil, err
	}
	stop := make(chan struct{})
	defer close(stop)
	env := model.NewEnvironment()
	env.Watcher = meshwatcher.NewTestWatcher(mesh.DefaultMeshConfig())
	env.PushContext().InitDone.Store(true)
	tw := revisions.NewTagWatcher(client, "", "istio-system")
	go tw.Run(stop)
	tmpl, err := inject.ParseTemplates(map[string]string{"kube-gateway": tmplText})
	if err != nil {
		return nil, err
	}
	values, err := inject.NewValuesConfig("global:\n  hub: docker.io/istio\n  tag: " + proxyVersion + "\n")
	if err != nil {
		return nil, err
	}
	webhook := func() inject.WebhookConfig {
		return inject.WebhookConfig{Templates: tmpl, Values: values, MeshConfig: mesh.DefaultMeshConfig()}
	}
	d := gatewaycommon.NewDeploymentController(client, cluster.ID("Kubernetes"), env, webhook, func(fn func()) {}, tw, "", "istio-system")
	client.RunAndWait(stop)
	go d.Run(stop)
	// Done when a Service and a Deployment were applied and nothing more came for 100 ms (at most ~5 s).
	last, stable := -1, 0
	for i := 0; i < 500 && stable < 10; i++ {
		time.Sleep(10 * time.Millisecond)
		mu.Lock()
		n, kinds := len(applied), map[string]bool{}
		for _, m := range applied {
			k, _ := m["kind"].(string)
			kinds[k] = true
		}
		mu.Unlock()
		if n == last && kinds["Service"] && kinds["Deployment"] {
			stable++
		} else {
			stable, last = 0, n
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if stable < 10 {
		kinds := []string{}
		for _, m := range applied {
			k, _ := m["kind"].(string)
			kinds = append(kinds, k)
		}
		sort.Strings(kinds)
		return applied, fmt.Errorf("the deployment controller applied %s, not a Service and a Deployment", strings.Join(kinds, ", "))
	}
	return applied, nil
}
