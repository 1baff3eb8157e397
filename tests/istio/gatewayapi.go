package harness

import (
	"encoding/json"
	"sort"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/runtime/schema"
	gwconsts "sigs.k8s.io/gateway-api/pkg/consts"

	"istio.io/istio/pilot/pkg/config/kube/gateway"
	"istio.io/istio/pilot/pkg/model"
	"istio.io/istio/pilot/pkg/status"
	"istio.io/istio/pilot/test/xds"
	"istio.io/istio/pkg/config"
	"istio.io/istio/pkg/config/schema/gvk"
	"istio.io/istio/pkg/config/schema/gvr"
	"istio.io/istio/pkg/kube/kclient/clienttest"
)

// The Kubernetes Gateway API side of a case. Gateway, GRPCRoute, HTTPRoute, ReferenceGrant and
// GatewayClass objects go to the fake istiod as Kubernetes objects (objects.go), where Istio's
// own Gateway API controller (pilot/pkg/config/kube/gateway, NewController, which
// pilot/test/xds NewFakeDiscoveryServer starts with the Gateway API CRDs registered in the fake
// client) turns them into Istio Gateway / VirtualService / DestinationRule configs and status.

// gatewayAPIController is the Gateway API controller of the fake istiod.
func gatewayAPIController(s *xds.FakeDiscoveryServer) *gateway.Controller {
	c, _ := s.Env().GatewayAPIController.(*gateway.Controller)
	return c
}

// settleGatewayAPI waits until the Gateway API controller's output stops changing and istiod
// has pushed it: the controller converts only after the first push context hands it a
// GatewayContext (Controller.Reconcile), and its output triggers a further push (pushXds).
func settleGatewayAPI(f *failer, s *xds.FakeDiscoveryServer) {
	c := gatewayAPIController(s)
	if c == nil {
		return
	}
	// Each round: wait for the output to hold still for 100 ms, then for istiod to commit the
	// pushes it asked for (the controller pushes its own changes: controller.go pushXds). Done
	// when a round changes nothing; at most ~3 s. (No push of our own: PushRequest's fields
	// differ between the releases the harness builds against.)
	before := ""
	for round := 0; round < 10; round++ {
		last, stable := generatedKey(c), 0
		for i := 0; i < 100 && stable < 10; i++ {
			time.Sleep(10 * time.Millisecond)
			if now := generatedKey(c); now == last {
				stable++
			} else {
				stable, last = 0, now
			}
		}
		s.EnsureSynced(f)
		if last == before && round > 0 {
			return
		}
		before = last
	}
}

func generatedKey(c *gateway.Controller) string {
	b, _ := json.Marshal(generated(c))
	return string(b)
}

// generated lists the Istio configs the controller made (Controller.List).
func generated(c *gateway.Controller) []GeneratedConfig {
	out := []GeneratedConfig{}
	for _, k := range []config.GroupVersionKind{gvk.Gateway, gvk.VirtualService, gvk.DestinationRule} {
		for _, cfg := range c.List(k, "") {
			spec, _ := json.Marshal(cfg.Spec)
			var m map[string]any
			_ = json.Unmarshal(spec, &m)
			out = append(out, GeneratedConfig{Kind: k.Kind, Name: cfg.Name, Namespace: cfg.Namespace,
				Annotations: cfg.Annotations, CreationTimestamp: cfg.CreationTimestamp.UTC().Format(time.RFC3339), Spec: m})
		}
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		return a.Kind+"/"+a.Namespace+"/"+a.Name < b.Kind+"/"+b.Namespace+"/"+b.Name
	})
	return out
}

// statusStore receives the status Istio's Gateway API controller writes: the controller queues
// status through a status.Manager (Controller.SetStatusWrite; pilot/pkg/status/manager.go
// NewManager: the worker pool reads the object with Get, then writes it with UpdateStatus). Only
// those two methods are called; the embedded nil ConfigStore is never reached.
type statusStore struct {
	model.ConfigStore
	mu          sync.Mutex
	generations map[string]int64
	statuses    map[string]ObjectStatus
	writes      int
}

func statusKey(kind, ns, name string) string { return kind + "/" + ns + "/" + name }

func (s *statusStore) Get(typ config.GroupVersionKind, name, namespace string) *config.Config {
	s.mu.Lock()
	defer s.mu.Unlock()
	// The worker pool writes only when the generation it read equals the one queued.
	return &config.Config{Meta: config.Meta{GroupVersionKind: typ, Name: name, Namespace: namespace,
		Generation: s.generations[statusKey(typ.Kind, namespace, name)]}}
}

func (s *statusStore) UpdateStatus(cfg config.Config) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, err := json.Marshal(cfg.Status)
	if err != nil {
		return "", err
	}
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	s.statuses[statusKey(cfg.GroupVersionKind.Kind, cfg.Namespace, cfg.Name)] = ObjectStatus{
		Kind: cfg.GroupVersionKind.Kind, Name: cfg.Name, Namespace: cfg.Namespace, Status: m,
	}
	s.writes++
	return "", nil
}

// gatewayAPIStatus turns status writing on and collects what the controller writes for every
// Gateway API object of the case, waiting until the writes stop.
func gatewayAPIStatus(s *xds.FakeDiscoveryServer, docs []doc) []ObjectStatus {
	c := gatewayAPIController(s)
	want := map[string]bool{}
	st := &statusStore{generations: map[string]int64{}, statuses: map[string]ObjectStatus{}}
	for _, d := range docs {
		if d.group != "gateway.networking.k8s.io" {
			continue
		}
		var m struct {
			Metadata struct {
				Generation int64 `json:"generation"`
			} `json:"metadata"`
		}
		_ = json.Unmarshal(d.raw, &m)
		st.generations[statusKey(d.kind, d.namespace, d.name)] = m.Metadata.Generation
		if d.kind != "ReferenceGrant" { // has no status
			want[statusKey(d.kind, d.namespace, d.name)] = true
		}
	}
	if c == nil || len(want) == 0 {
		return []ObjectStatus{}
	}
	mgr := status.NewManager(st)
	stop := make(chan struct{})
	defer close(stop)
	mgr.Start(stop)
	c.SetStatusWrite(true, mgr)
	defer c.SetStatusWrite(false, nil)
	last, stable := -1, 0
	for i := 0; i < 300 && stable < 10; i++ {
		time.Sleep(10 * time.Millisecond)
		st.mu.Lock()
		n, have := st.writes, 0
		for k := range want {
			if _, ok := st.statuses[k]; ok {
				have++
			}
		}
		st.mu.Unlock()
		// Every object has a status and no write came for 100 ms (at most ~3 s).
		if n == last && have == len(want) {
			stable++
		} else {
			stable, last = 0, n
		}
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	out := []ObjectStatus{}
	for _, v := range st.statuses {
		out = append(out, v)
	}
	sort.Slice(out, func(i, j int) bool {
		return statusKey(out[i].Kind, out[i].Namespace, out[i].Name) < statusKey(out[j].Kind, out[j].Namespace, out[j].Name)
	})
	return out
}

// annotateGatewayAPICRDs gives the fake cluster's Gateway API CRDs the bundle-version annotation
// real CRDs carry. Istio ignores a GRPCRoute (TLSRoute, BackendTLSPolicy) CRD without it or
// below its minimum (pkg/kube/kclient/crdwatcher.go minimumVersionFilter, with
// pkg/config/schema/gatewayapi MinimumCRDVersions: grpcroutes >= v1.1.0), and pilot/test/xds
// registers them without annotations (clienttest.MakeCRD), so without this no GRPCRoute is
// ever read. The version is the bundle Istio was built against. Updating the CRDs after the
// server started is what a CRD upgrade does: the delayed informers start then.
func annotateGatewayAPICRDs(f *failer, s *xds.FakeDiscoveryServer) {
	for _, r := range []schema.GroupVersionResource{
		gvr.GatewayClass, gvr.KubernetesGateway, gvr.HTTPRoute, gvr.GRPCRoute, gvr.ReferenceGrant, gvr.TLSRoute, gvr.TCPRoute,
		gvr.BackendTLSPolicy,
	} {
		clienttest.MakeCRDWithAnnotations(f, s.KubeClient(), r, map[string]string{gwconsts.BundleVersionAnnotation: gwconsts.BundleVersion})
	}
}
