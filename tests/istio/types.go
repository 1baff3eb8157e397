package harness

// Input and output of the harness: one JSON file in, one JSON file out. tests/support/istio.py
// writes the input and reads the output; keep the two in step.

// Input is a batch of independent cases; each gets its own fake istiod.
type Input struct {
	Cases []Case `json:"cases"`
}

// Case is one rendered manifest set on one gateway install, and the calls to replay.
type Case struct {
	ID string `json:"id"`
	// Manifests is the chart's rendered output (a YAML stream): validated, analysed, simulated.
	Manifests string `json:"manifests"`
	// Fixtures is the rest of the cluster (backend Services and Pods, TLS Secrets, Namespaces, a
	// platform team's Gateway): analysed and simulated, reported apart from Manifests.
	Fixtures string `json:"fixtures"`
	// Namespace given to namespaced objects without one (helm's release namespace).
	Namespace string  `json:"namespace"`
	Install   Install `json:"install"`
	// MeshConfig is an optional MeshConfig YAML (for example the 1.31 EDGE connection profile).
	MeshConfig string `json:"mesh_config"`
	Calls      []Call `json:"calls"`
	// Sidecars are mesh clients (sidecar proxies) whose view of some clusters is reported, to
	// see what the manifests change outside the gateway (a DestinationRule applies mesh-wide).
	Sidecars []Sidecar `json:"sidecars"`
	// Analyze and Simulate default to true when omitted.
	Analyze  *bool `json:"analyze"`
	Simulate *bool `json:"simulate"`
}

// Install is the gateway deployment the manifests run on: the harness adds its Service and a
// running Pod, and simulates that Pod's proxy.
type Install struct {
	Name      string            `json:"name"`
	Namespace string            `json:"namespace"`
	Labels    map[string]string `json:"labels"`
	Ports     []InstallPort     `json:"ports"`
	PodIP     string            `json:"pod_ip"`
	// Selector is the Service's selector; nil: Labels. A Gateway API deployment's Service
	// selects on gateway.networking.k8s.io/gateway-name alone (kube-gateway.yaml).
	Selector map[string]string `json:"selector,omitempty"`
}

// InstallPort is one gateway Service port: clients dial Port, the pod listens on TargetPort.
type InstallPort struct {
	Name       string `json:"name"`
	Port       int    `json:"port"`
	TargetPort int    `json:"target_port"`
	// AppProtocol of the Service port (a Gateway API deployment sets the listener protocol).
	AppProtocol string `json:"app_protocol,omitempty"`
}

// Sidecar is a mesh workload's proxy; Clusters are the cluster names to describe for it.
type Sidecar struct {
	ID        string            `json:"id"`
	Namespace string            `json:"namespace"`
	Labels    map[string]string `json:"labels"`
	PodIP     string            `json:"pod_ip"`
	Clusters  []string          `json:"clusters"`
}

// Call is one client request through the gateway Service.
type Call struct {
	ID string `json:"id"`
	// Port is the gateway Service port the client dials; the harness maps it to the pod's port.
	Port int `json:"port"`
	// TLS: "tls", "mtls" or "plaintext".
	TLS string `json:"tls"`
	// Protocol: "http2" (gRPC, the default) or "http" (HTTP/1.1).
	Protocol  string `json:"protocol"`
	Alpn      string `json:"alpn"`
	Sni       string `json:"sni"`
	Authority string `json:"authority"`
	Path      string `json:"path"`
	// Method and Headers go with the call, but Istio's simulation matches routes on the path
	// alone (simulation.matchRoute); CallResult.PathOnly says when that answer is exact.
	Method  string            `json:"method"`
	Headers map[string]string `json:"headers"`
}

type Output struct {
	// Istio is the istio.io/istio module version the harness was built from.
	Istio string       `json:"istio"`
	Cases []CaseResult `json:"cases"`
}

type CaseResult struct {
	ID string `json:"id"`
	// Error: the case could not run (bad input, or Istio's test server refused it).
	Error      string             `json:"error,omitempty"`
	Objects    []ObjectInfo       `json:"objects"`
	Validation []ValidationResult `json:"validation"`
	Analysis   []AnalysisMessage  `json:"analysis"`
	// AnalysisError: the analyzer itself failed (not a finding).
	AnalysisError string          `json:"analysis_error,omitempty"`
	Listeners     []ListenerInfo  `json:"listeners"`
	Clusters      []string        `json:"clusters"`
	XDSInvalid    []string        `json:"xds_invalid"`
	Calls         []CallResult    `json:"calls"`
	Sidecars      []SidecarResult `json:"sidecars"`
	// GatewayAPI is what Istio's Gateway API controller made of the case's Gateway API objects;
	// nil when the case has none.
	GatewayAPI *GatewayAPIResult `json:"gateway_api"`
}

// GatewayAPIResult: the Istio configs the controller generated, and the status it writes on
// each Gateway API object (conditions Accepted, Programmed, ResolvedRefs; per listener and per
// parentRef), as the API server would show it.
type GatewayAPIResult struct {
	Generated []GeneratedConfig `json:"generated"`
	Status    []ObjectStatus    `json:"status"`
}

type GeneratedConfig struct {
	Kind        string            `json:"kind"`
	Name        string            `json:"name"`
	Namespace   string            `json:"namespace"`
	Annotations map[string]string `json:"annotations"`
	// CreationTimestamp (RFC 3339) is the one Istio gave the config: the route's it was built
	// from, for a merge of several the oldest's (mergeHTTPRoutes in route_collections.go).
	CreationTimestamp string         `json:"creationTimestamp"`
	Spec              map[string]any `json:"spec"`
}

type ObjectStatus struct {
	Kind      string         `json:"kind"`
	Name      string         `json:"name"`
	Namespace string         `json:"namespace"`
	Status    map[string]any `json:"status"`
}

type SidecarResult struct {
	ID       string         `json:"id"`
	Clusters []UpstreamInfo `json:"clusters"`
}

// ObjectInfo says where each input document went.
type ObjectInfo struct {
	Source    string `json:"source"` // manifests, fixtures or install
	Kind      string `json:"kind"`
	Name      string `json:"name"`
	Namespace string `json:"namespace"`
	// Used: "istio-config", "kubernetes" or "ignored".
	Used   string `json:"used"`
	Reason string `json:"reason,omitempty"`
}

// ValidationResult is Istio's validating webhook's answer for one istio.io object.
type ValidationResult struct {
	Source    string   `json:"source"`
	Kind      string   `json:"kind"`
	Name      string   `json:"name"`
	Namespace string   `json:"namespace"`
	Allowed   bool     `json:"allowed"`
	Message   string   `json:"message,omitempty"`
	Warnings  []string `json:"warnings"`
}

type AnalysisMessage struct {
	Code     string `json:"code"`
	Level    string `json:"level"`
	Message  string `json:"message"`
	Resource string `json:"resource"`
	Text     string `json:"text"`
}

type ListenerInfo struct {
	Name         string            `json:"name"`
	Port         uint32            `json:"port"`
	FilterChains []FilterChainInfo `json:"filter_chains"`
	// PerConnectionBufferLimitBytes is the listener's per_connection_buffer_limit_bytes (nil: unset).
	PerConnectionBufferLimitBytes *uint32 `json:"per_connection_buffer_limit_bytes"`
}

type FilterChainInfo struct {
	Name                 string   `json:"name"`
	ServerNames          []string `json:"server_names"`
	TransportProtocol    string   `json:"transport_protocol"`
	ApplicationProtocols []string `json:"application_protocols"`
	NetworkFilters       []string `json:"network_filters"`
	HTTPFilters          []string `json:"http_filters"`
	RouteConfig          string   `json:"route_config"`
	// TLS summarises the chain's DownstreamTlsContext; nil on plaintext chains.
	TLS *TLSInfo `json:"tls"`
	// HCM is the chain's HTTP connection manager settings (see CallResult.HCM); nil without one.
	HCM map[string]any `json:"hcm,omitempty"`
}

type TLSInfo struct {
	ALPN                     []string `json:"alpn"`
	CertificateSDS           []string `json:"certificate_sds"`
	ValidationSDS            string   `json:"validation_sds,omitempty"`
	RequireClientCertificate bool     `json:"require_client_certificate"`
	MinVersion               string   `json:"min_version,omitempty"`
	MaxVersion               string   `json:"max_version,omitempty"`
	// CipherSuites: the chain's tls_params cipher_suites (empty: Envoy's defaults).
	CipherSuites []string `json:"cipher_suites"`
}

type CallResult struct {
	ID          string `json:"id"`
	ServicePort int    `json:"service_port"`
	BindPort    int    `json:"bind_port"`
	// Error is the simulation's verdict when the call does not reach a route: "no listener
	// matched", "tls required, sending 301", "no route matched", ...
	Error       string `json:"error,omitempty"`
	Listener    string `json:"listener,omitempty"`
	FilterChain string `json:"filter_chain,omitempty"`
	// Chain is the matched filter chain (gateway chains carry no name: read server_names).
	Chain          *FilterChainInfo `json:"chain"`
	NetworkFilters []string         `json:"network_filters"`
	HTTPFilters    []string         `json:"http_filters"`
	HCM            map[string]any   `json:"hcm,omitempty"`
	RouteConfig    string           `json:"route_config,omitempty"`
	VirtualHost    string           `json:"virtual_host,omitempty"`
	RequireTLS     string           `json:"require_tls,omitempty"`
	Route          string           `json:"route,omitempty"`
	RouteMatch     map[string]any   `json:"route_match,omitempty"`
	// PathOnly: no route of the virtual host up to the matched one matches on headers or query
	// parameters, so the simulation's path-only matching is exactly Envoy's for this call.
	PathOnly bool `json:"path_only"`
	// Rematched: Envoy's path matching picked another route than the simulation's looser one
	// (or none): Route, Cluster and Error say what Envoy does (simulate.go envoyRoute).
	Rematched         bool              `json:"rematched,omitempty"`
	Timeout           *string           `json:"timeout"`
	IdleTimeout       *string           `json:"idle_timeout"`
	MaxStreamDuration map[string]any    `json:"max_stream_duration,omitempty"`
	RetryPolicy       map[string]any    `json:"retry_policy"`
	Cors              map[string]any    `json:"cors"`
	CorsFrom          string            `json:"cors_from,omitempty"`
	Redirect          map[string]any    `json:"redirect,omitempty"`
	DirectResponse    map[string]any    `json:"direct_response,omitempty"`
	Cluster           string            `json:"cluster,omitempty"`
	WeightedClusters  []WeightedCluster `json:"weighted_clusters"`
	Upstreams         []UpstreamInfo    `json:"upstreams"`

	// HashPolicy is the route's hash_policy (consistent hashing), one map per entry.
	HashPolicy []map[string]any `json:"hash_policy"`
}

type WeightedCluster struct {
	Name   string `json:"name"`
	Weight uint32 `json:"weight"`
}

// UpstreamInfo describes a cluster the call's route sends to, as the gateway received it.
type UpstreamInfo struct {
	Name  string `json:"name"`
	Found bool   `json:"found"`
	// Protocol the gateway speaks to the backend: "h2", "http/1.1", "downstream" or "auto".
	Protocol                 string         `json:"protocol,omitempty"`
	IdleTimeout              *string        `json:"idle_timeout"`
	MaxRequestsPerConnection *uint32        `json:"max_requests_per_connection"`
	TCPKeepalive             map[string]any `json:"tcp_keepalive"`
	LbPolicy                 string         `json:"lb_policy,omitempty"`
	// OutlierDetection is the cluster's outlier_detection; HTTP2 its explicit HTTP/2 protocol
	// options (connection_keepalive, max_concurrent_streams...). nil when unset.
	OutlierDetection map[string]any `json:"outlier_detection"`
	HTTP2            map[string]any `json:"http2_protocol_options"`
}
