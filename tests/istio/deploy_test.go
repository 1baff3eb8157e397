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

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/runtime"
	kjson "k8s.io/apimachinery/pkg/runtime/serializer/json"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/managedfields"
	"k8s.io/apimachinery/pkg/util/validation/field"
	kubeyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/applyconfigurations"
	dynamicfake "k8s.io/client-go/dynamic/fake"
	"k8s.io/client-go/kubernetes/scheme"
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
// field is unexported, so the fake dynamic client's patch reactor records what it applies, and
// Kubernetes' own code says which of those objects the API server would refuse (kubernetesAnswer).
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
	Refused []Refusal        `json:"refused"` // the applied objects Kubernetes' own code refuses (kubernetesAnswer)
	Warned  []Refusal        `json:"warned"`  // unknown or duplicate fields: warnings under the API server's default
	Error   string           `json:"error,omitempty"`
}

// Refusal is Kubernetes' answer for one applied object it refuses: Check names the first check
// that refused (in kubernetesAnswer's order) and Error is its error text. Apply is what server-side
// apply's typed conversion says of the same body, when it refuses too.
type Refusal struct {
	Kind  string `json:"kind"`
	Name  string `json:"name"`
	Check string `json:"check"` // "decode", "validate" or "apply"
	Error string `json:"error"`
	Apply string `json:"apply,omitempty"`
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
		bodies, err := deploy(c, string(tmplText))
		res := DeployResult{ID: c.ID, Applied: []map[string]any{}, Refused: []Refusal{}, Warned: []Refusal{}}
		for _, body := range bodies {
			var m map[string]any
			if err := json.Unmarshal(body, &m); err != nil {
				res.Error = fmt.Sprintf("the controller applied a body that is not a JSON object: %v", err)
				continue
			}
			res.Applied = append(res.Applied, m)
			refused, warned := kubernetesAnswer(body)
			if refused != nil {
				res.Refused = append(res.Refused, *refused)
			}
			if warned != nil {
				res.Warned = append(res.Warned, *warned)
			}
		}
		if err != nil && res.Error == "" {
			res.Error = err.Error()
		}
		out = append(out, res)
	}
	writeOutput(t, *deployOutput, map[string]any{"istio": istioModule, "gateways": out})
}

// deploy returns the body of each server-side apply the controller sent, in order.
func deploy(c DeployCase, tmplText string) ([][]byte, error) {
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
	if gw.UID == "" {
		// The API server gives every object a UID, which the controller writes into the
		// ownerReferences (an empty one fails their validation); the fake client gives none.
		gw.UID = types.UID("00000000-0000-0000-0000-00000000cafe")
	}
	client := kube.NewFakeClient(&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: gw.Namespace}})
	var mu sync.Mutex
	applied := [][]byte{}
	kindOf := func(body []byte) string {
		var tm metav1.TypeMeta
		_ = json.Unmarshal(body, &tm)
		return tm.Kind
	}
	// Server-side apply is what the controller's patcher sends (its field is unexported); record it.
	client.Dynamic().(*dynamicfake.FakeDynamicClient).PrependReactor("patch", "*",
		func(a clienttesting.Action) (bool, runtime.Object, error) {
			p := a.(clienttesting.PatchAction)
			if p.GetSubresource() == "" {
				mu.Lock()
				applied = append(applied, append([]byte(nil), p.GetPatch()...))
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
		for _, body := range applied {
			kinds[kindOf(body)] = true
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
		for _, body := range applied {
			kinds = append(kinds, kindOf(body))
		}
		sort.Strings(kinds)
		return applied, fmt.Errorf("the deployment controller applied %s, not a Service and a Deployment", strings.Join(kinds, ", "))
	}
	return applied, nil
}

// What Kubernetes makes of one body the controller applied. Istio's patcher sends it as a
// server-side apply (types.ApplyPatchType, with no fieldValidation, so the API server's default,
// Warn: fieldValidation in k8s.io/apiserver pkg/endpoints/handlers/rest.go). The API server
// (applyPatcher.applyPatchToCurrentObject in k8s.io/apiserver pkg/endpoints/handlers/patch.go)
// reads the body into a map with k8s.io/apimachinery/pkg/util/yaml.Unmarshal and its field
// manager converts that to a typed value against the kind's schema (structuredMergeManager.Apply
// in k8s.io/apimachinery/pkg/util/managedfields/internal/structuredmerge.go: ObjectToTyped,
// refused as "failed to create typed patch object"); the object that comes out is the typed Go
// object of its kind (corev1.Service, appsv1.Deployment...), which the API server validates.
// kubernetesAnswer asks Kubernetes' own code the same, in this order, and returns the first
// refusal (nil when all take it) and the strict decoding's warnings:
//   - decode: the body decoded into the typed object of its apiVersion/kind by apimachinery's
//     JSON serializer in strict mode (Serializer.Decode and unmarshal in
//     k8s.io/apimachinery/pkg/runtime/serializer/json/json.go: sigs.k8s.io/json's UnmarshalStrict),
//     the StrictSerializer the API server's create and update handlers decode a request body
//     with (decoder.Decode in pkg/endpoints/handlers/create.go and update.go). A value of the
//     wrong JSON type (a number where a label value's string goes) is a fatal error: refused.
//     Its strict errors (unknown or duplicate fields) are warnings under Warn: warned.
//   - validate, on the decoded object: what of the API server's validation apimachinery holds.
//     Every object's metadata (ValidateObjectMetaAccessor in
//     k8s.io/apimachinery/pkg/api/validation/objectmeta.go, which Kubernetes' ValidateObjectMeta
//     in pkg/apis/core/validation wraps: name, namespace, labels, annotations, ownerReferences),
//     a Service's selector (ValidateLabels in k8s.io/apimachinery/pkg/apis/meta/v1/validation, as
//     Kubernetes' ValidateService calls it) and a Deployment's selector and pod labels and
//     annotations (ValidateLabelSelector, ValidateLabels, ValidateAnnotations).
//   - apply: server-side apply's typed conversion itself (ObjectToTyped) on the map
//     util/yaml.Unmarshal reads, with the schema of the built-in kinds client-go ships
//     (k8s.io/client-go/applyconfigurations NewTypeConverter). Its text is also kept as Apply
//     when an earlier check refused first.
func kubernetesAnswer(body []byte) (refused, warned *Refusal) {
	var head struct {
		Kind     string `json:"kind"`
		Metadata struct {
			Name any `json:"name"`
		} `json:"metadata"`
	}
	_ = json.Unmarshal(body, &head)
	kind, name := head.Kind, fmt.Sprint(head.Metadata.Name)
	refuse := func(check, text string) {
		if refused == nil {
			refused = &Refusal{Kind: kind, Name: name, Check: check, Error: text}
		}
	}

	obj, _, err := strictJSON.Decode(body, nil, nil)
	switch {
	case err == nil:
	case runtime.IsStrictDecodingError(err):
		warned = &Refusal{Kind: kind, Name: name, Check: "decode", Error: err.Error()}
	default:
		refuse("decode", err.Error())
		obj = nil
	}
	if obj != nil {
		if errs := validateApplied(obj); len(errs) > 0 {
			refuse("validate", errs.ToAggregate().Error())
		}
	}

	var applyErr error
	u := map[string]any{}
	if err := kubeyaml.Unmarshal(body, &u); err != nil {
		applyErr = fmt.Errorf("error decoding YAML: %v", err)
	} else if _, err := applyTypes.ObjectToTyped(&unstructured.Unstructured{Object: u}); err != nil {
		applyErr = err
	}
	if applyErr != nil {
		refuse("apply", applyErr.Error())
		refused.Apply = applyErr.Error()
	}
	return refused, warned
}

var (
	// The strict JSON serializer NewCodecFactory makes for application/json (its StrictSerializer),
	// over client-go's scheme of the built-in kinds.
	strictJSON = kjson.NewSerializerWithOptions(kjson.DefaultMetaFactory, scheme.Scheme, scheme.Scheme,
		kjson.SerializerOptions{Yaml: false, Pretty: false, Strict: true})
	applyTypes managedfields.TypeConverter = applyconfigurations.NewTypeConverter(scheme.Scheme)
)

// validateApplied runs the parts of the API server's validation apimachinery holds (see
// kubernetesAnswer) on a decoded object.
func validateApplied(obj runtime.Object) field.ErrorList {
	var errs field.ErrorList
	// A Service's name: the API server's ValidateServiceName is NameIsDNS1035Label (no leading
	// digit) unless the RelaxedServiceNameValidation feature gate is on, which relaxes it to
	// NameIsDNSLabel (KEP-5311: alpha in 1.34, off by default). Clusters run with the default,
	// so the strict rule is asked. The other kinds' names are DNS subdomains.
	nameFn := apivalidation.NameIsDNSSubdomain
	switch obj.(type) {
	case *corev1.Service:
		nameFn = apivalidation.NameIsDNS1035Label
	case *corev1.ServiceAccount:
		nameFn = apivalidation.ValidateServiceAccountName
	}
	if acc, err := meta.Accessor(obj); err == nil {
		errs = append(errs, apivalidation.ValidateObjectMetaAccessor(acc, true, nameFn, field.NewPath("metadata"))...)
	}
	switch o := obj.(type) {
	case *corev1.Service:
		if o.Spec.Selector != nil {
			errs = append(errs, metav1validation.ValidateLabels(o.Spec.Selector, field.NewPath("spec", "selector"))...)
		}
	case *appsv1.Deployment:
		spec := field.NewPath("spec")
		if o.Spec.Selector == nil {
			errs = append(errs, field.Required(spec.Child("selector"), ""))
		} else {
			errs = append(errs, metav1validation.ValidateLabelSelector(o.Spec.Selector,
				metav1validation.LabelSelectorValidationOptions{}, spec.Child("selector"))...)
		}
		tmd := spec.Child("template", "metadata")
		errs = append(errs, metav1validation.ValidateLabels(o.Spec.Template.Labels, tmd.Child("labels"))...)
		errs = append(errs, apivalidation.ValidateAnnotations(o.Spec.Template.Annotations, tmd.Child("annotations"))...)
	}
	return errs
}
