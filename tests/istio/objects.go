package harness

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	kubeyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"

	"istio.io/istio/pilot/pkg/config/kube/crd"
	"istio.io/istio/pkg/config"
	"istio.io/istio/pkg/config/schema/collections"
	"istio.io/istio/pkg/config/schema/resource"
	kubelib "istio.io/istio/pkg/kube"
)

// doc is one YAML document of the input, with where it came from and where it goes.
type doc struct {
	source    string
	raw       []byte // JSON
	kind      string
	group     string
	version   string
	name      string
	namespace string
	hook      bool
}

func (d doc) info(used, reason string) ObjectInfo {
	return ObjectInfo{Source: d.source, Kind: d.kind, Name: d.name, Namespace: d.namespace, Used: used, Reason: reason}
}

// istioKind: the object is an Istio CRD (networking.istio.io, security.istio.io, ...), the
// kinds Istio's validating webhook sees and istiod reads as config.
func (d doc) istioKind() bool {
	return strings.HasSuffix(d.group, "istio.io")
}

// splitDocs reads a YAML stream into documents, as kubectl would.
func splitDocs(source, stream, defaultNamespace string) ([]doc, error) {
	var out []doc
	dec := kubeyaml.NewYAMLOrJSONDecoder(bytes.NewReader([]byte(stream)), 512*1024)
	for {
		var obj map[string]any
		if err := dec.Decode(&obj); err != nil {
			if err == io.EOF {
				break
			}
			return nil, fmt.Errorf("%s: not YAML: %v", source, err)
		}
		if len(obj) == 0 {
			continue
		}
		raw, err := json.Marshal(obj)
		if err != nil {
			return nil, err
		}
		var tm struct {
			APIVersion string `json:"apiVersion"`
			Kind       string `json:"kind"`
			Metadata   struct {
				Name        string            `json:"name"`
				Namespace   string            `json:"namespace"`
				Annotations map[string]string `json:"annotations"`
			} `json:"metadata"`
		}
		if err := json.Unmarshal(raw, &tm); err != nil {
			return nil, fmt.Errorf("%s: %v", source, err)
		}
		group, version := "", tm.APIVersion
		if i := strings.LastIndex(tm.APIVersion, "/"); i >= 0 {
			group, version = tm.APIVersion[:i], tm.APIVersion[i+1:]
		}
		d := doc{
			source: source, raw: raw, kind: tm.Kind, group: group, version: version,
			name: tm.Metadata.Name, namespace: tm.Metadata.Namespace,
		}
		// `helm install` does not create hook resources (the helm test Pod is created by
		// `helm test`, Argo CD skips it): they are not part of what runs.
		_, d.hook = tm.Metadata.Annotations["helm.sh/hook"]
		if d.namespace == "" && !clusterScoped(d.kind) {
			d.namespace = defaultNamespace
			obj["metadata"].(map[string]any)["namespace"] = defaultNamespace
			if d.raw, err = json.Marshal(obj); err != nil {
				return nil, err
			}
		}
		out = append(out, d)
	}
	return out, nil
}

func clusterScoped(kind string) bool {
	switch kind {
	case "Namespace", "ClusterRole", "ClusterRoleBinding", "GatewayClass", "CustomResourceDefinition", "ClusterIssuer":
		return true
	}
	return false
}

// world is everything a case feeds to Istio, sorted by destination.
type world struct {
	objects     []ObjectInfo
	configs     []config.Config  // Istio CRs, for the fake istiod
	kube        []runtime.Object // Kubernetes and Gateway API objects, for the fake istiod
	analyzeYAML []string         // every used document, for the analyzers
	istioDocs   []doc            // Istio CRs, for the webhook
	gatewayAPI  []doc            // Gateway API objects (gateway.networking.k8s.io), for their status
}

func buildWorld(c Case) (*world, error) {
	ns := c.Namespace
	if ns == "" {
		ns = "default"
	}
	var docs []doc
	for _, part := range []struct{ source, text string }{
		{"manifests", c.Manifests}, {"fixtures", c.Fixtures}, {"install", installYAML(c.Install)},
	} {
		ds, err := splitDocs(part.source, part.text, ns)
		if err != nil {
			return nil, err
		}
		docs = append(docs, ds...)
	}
	w := &world{}
	decode := kubelib.IstioCodec.UniversalDeserializer().Decode
	for _, d := range docs {
		if d.hook {
			w.objects = append(w.objects, d.info("ignored", "helm hook: not created by helm install"))
			continue
		}
		y, err := yaml.JSONToYAML(d.raw)
		if err != nil {
			return nil, err
		}
		if d.istioKind() {
			w.istioDocs = append(w.istioDocs, d)
			k := schema.GroupVersionKind{Group: d.group, Version: d.version, Kind: d.kind}
			s, ok := collections.PilotGatewayAPI().FindByGroupKind(resource.FromKubernetesGVK(&k))
			if !ok {
				w.objects = append(w.objects, d.info("ignored", "an istio.io kind istiod does not read"))
				continue
			}
			var obj crd.IstioKind
			if err := json.Unmarshal(d.raw, &obj); err != nil {
				w.objects = append(w.objects, d.info("ignored", err.Error()))
				continue
			}
			cfg, err := crd.ConvertObject(s, &obj, "cluster.local")
			if err != nil {
				w.objects = append(w.objects, d.info("ignored", err.Error()))
				continue
			}
			// istiod stores only what the webhook admitted.
			if _, err := s.ValidateConfig(*cfg); err != nil {
				w.objects = append(w.objects, d.info("ignored", "refused by validation: "+err.Error()))
				continue
			}
			w.configs = append(w.configs, *cfg)
			w.analyzeYAML = append(w.analyzeYAML, string(y))
			w.objects = append(w.objects, d.info("istio-config", ""))
			continue
		}
		o, _, err := decode(y, nil, nil)
		if err != nil {
			// cert-manager's Certificate and other kinds Istio has no scheme for.
			w.objects = append(w.objects, d.info("ignored", "kind unknown to Istio: "+firstLine(err.Error())))
			continue
		}
		if d.group == "gateway.networking.k8s.io" {
			w.gatewayAPI = append(w.gatewayAPI, d)
		}
		w.kube = append(w.kube, o)
		w.analyzeYAML = append(w.analyzeYAML, string(y))
		w.objects = append(w.objects, d.info("kubernetes", ""))
	}
	return w, nil
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}
