package harness

import (
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"testing"

	cluster "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	listener "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	route "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	hcm "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	tlsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
	upstreamhttp "github.com/envoyproxy/go-control-plane/envoy/extensions/upstreams/http/v3"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/durationpb"

	"istio.io/istio/pilot/pkg/model"
	"istio.io/istio/pilot/pkg/simulation"
	v3 "istio.io/istio/pilot/pkg/xds/v3"
	"istio.io/istio/pilot/test/xds"
	"istio.io/istio/pilot/test/xdstest"
	"istio.io/istio/pkg/config/mesh"
	"istio.io/istio/pkg/wellknown"
)

// simulate builds Istio's real xDS for the gateway pod (pilot/test/xds NewFakeDiscoveryServer:
// istiod's config store, Kubernetes registry and Gateway API controller, fed the case's objects)
// and replays each call through it with pilot/pkg/simulation, as Istio's own
// pilot/pkg/networking/core/gateway_simulation_test.go does (runGatewayTest, TestTargetPort).
func simulate(t *testing.T, f *failer, c Case, w *world, res *CaseResult) {
	opts := xds.FakeOptions{Configs: w.configs, KubernetesObjects: w.kube}
	if c.MeshConfig != "" {
		m, err := mesh.ApplyMeshConfigDefaults(c.MeshConfig)
		if err != nil {
			f.Fatalf("mesh_config: %v", err)
		}
		opts.MeshConfig = m
	}
	s := xds.NewFakeDiscoveryServer(f, opts)
	if len(w.gatewayAPI) > 0 {
		annotateGatewayAPICRDs(f, s)
		settleGatewayAPI(f, s)
		res.GatewayAPI = &GatewayAPIResult{Generated: generated(gatewayAPIController(s)), Status: gatewayAPIStatus(s, w.gatewayAPI)}
	}
	in := c.Install
	// The gateway pod's proxy: a Router in the pods' namespace (ConfigNamespace decides which
	// EnvoyFilters apply), labelled like the pods; its Service targets (and so the bind ports,
	// resolvePorts in pilot/pkg/model/gateway.go) come from the Pod found by IP and the Service.
	proxy := s.SetupProxy(&model.Proxy{
		ID:              podName(in) + "." + in.Namespace,
		Type:            model.Router,
		ConfigNamespace: in.Namespace,
		IPAddresses:     []string{in.PodIP},
		Labels:          in.Labels,
		Metadata: &model.NodeMetadata{
			Namespace:    in.Namespace,
			Labels:       in.Labels,
			IstioVersion: proxyVersion,
		},
	})
	sim := simulation.NewSimulation(t, s, proxy)

	res.Listeners = describeListeners(f, sim.Listeners)
	res.Clusters = []string{}
	for _, cl := range sim.Clusters {
		res.Clusters = append(res.Clusters, cl.Name)
	}
	res.XDSInvalid = validateXDS(t, sim)

	routes := xdstest.ExtractRouteConfigurations(sim.Routes)
	clusters := xdstest.ExtractClusters(sim.Clusters)
	for _, call := range c.Calls {
		res.Calls = append(res.Calls, runCall(f, sim, in, call, routes, clusters))
	}
	for _, sc := range c.Sidecars {
		res.Sidecars = append(res.Sidecars, sidecarView(f, s, sc))
	}
}

func runCall(f *failer, sim *simulation.Simulation, in Install, call Call, routes map[string]*route.RouteConfiguration,
	clusters map[string]*cluster.Cluster,
) CallResult {
	out := CallResult{ID: call.ID, ServicePort: call.Port, NetworkFilters: []string{}, HTTPFilters: []string{},
		WeightedClusters: []WeightedCluster{}, Upstreams: []UpstreamInfo{}}
	port, ok := bindPort(in, call.Port)
	if !ok {
		out.Error = fmt.Sprintf("the gateway Service %s/%s has no port %d", in.Namespace, in.Name, call.Port)
		return out
	}
	out.BindPort = port
	headers := http.Header{}
	for k, v := range call.Headers {
		headers.Set(k, v)
	}
	protocol := simulation.HTTP2
	if call.Protocol == "http" {
		protocol = simulation.HTTP
	}
	tls := simulation.Plaintext
	switch call.TLS {
	case "tls":
		tls = simulation.TLS
	case "mtls":
		tls = simulation.MTLS
	}
	var chain *listener.FilterChain
	r := sim.Run(simulation.Call{
		Port:       port,
		Path:       call.Path,
		Protocol:   protocol,
		TLS:        tls,
		Alpn:       call.Alpn,
		Sni:        call.Sni,
		HostHeader: call.Authority,
		Headers:    headers,
		CallMode:   simulation.CallModeGateway,
		CustomListenerValidations: []simulation.CustomFilterChainValidation{func(fc *listener.FilterChain) error {
			chain = fc
			return nil
		}},
	})
	if r.Error != nil {
		out.Error = r.Error.Error()
	}
	out.Listener, out.FilterChain = r.ListenerMatched, r.FilterChainMatched
	out.RouteConfig, out.VirtualHost, out.Route = r.RouteConfigMatched, r.VirtualHostMatched, r.RouteMatched
	out.Cluster = r.ClusterMatched
	if chain != nil {
		ci := describeChain(f, chain)
		out.Chain = &ci
		out.NetworkFilters, out.HTTPFilters = xdstest.ExtractFilterNames(f, chain)
		if h := xdstest.ExtractHTTPConnectionManager(f, chain); h != nil {
			out.HCM = hcmSettings(h)
		}
	}
	rc := routes[r.RouteConfigMatched]
	if rc == nil || r.VirtualHostMatched == "" {
		return out
	}
	var vh *route.VirtualHost
	for _, v := range rc.VirtualHosts {
		if v.Name == r.VirtualHostMatched {
			vh = v
		}
	}
	if vh == nil {
		return out
	}
	out.RequireTLS = vh.RequireTls.String()
	if r.RouteMatched == "" && r.Error != nil {
		return out
	}
	// The simulation matches on the path alone (simulation.matchRoute), and more loosely than
	// Envoy for two kinds of match: it reads path_separated_prefix (what Istio makes of a
	// GRPCRoute service match and an HTTPRoute PathPrefix) as a plain prefix and a safe_regex as
	// a partial match. The route is picked again with Envoy's rules (envoyRoute); Istio's
	// answer stands for everything else.
	rt := envoyRoute(vh, call.Path)
	if rt == nil {
		out.Error, out.Route, out.Cluster, out.Rematched = "no route matched", "", "", true
		return out
	}
	if rt.Name != r.RouteMatched {
		out.Route, out.Cluster, out.Rematched = rt.Name, rt.GetRoute().GetCluster(), true
	}
	out.PathOnly = true
	for _, x := range vh.Routes {
		if len(x.GetMatch().GetHeaders()) > 0 || len(x.GetMatch().GetQueryParameters()) > 0 {
			out.PathOnly = false
		}
		if x == rt {
			break
		}
	}
	out.RouteMatch = toMap(rt.GetMatch())
	if a := rt.GetRoute(); a != nil {
		out.Timeout = dur(a.GetTimeout())
		out.IdleTimeout = dur(a.GetIdleTimeout())
		if a.GetMaxStreamDuration() != nil {
			out.MaxStreamDuration = toMap(a.GetMaxStreamDuration())
		}
		if a.GetRetryPolicy() != nil {
			out.RetryPolicy = toMap(a.GetRetryPolicy())
		}
		for _, h := range a.GetHashPolicy() {
			out.HashPolicy = append(out.HashPolicy, toMap(h))
		}
		names := []string{}
		if a.GetCluster() != "" {
			names = append(names, a.GetCluster())
		}
		for _, wc := range a.GetWeightedClusters().GetClusters() {
			out.WeightedClusters = append(out.WeightedClusters, WeightedCluster{Name: wc.GetName(), Weight: wc.GetWeight().GetValue()})
			names = append(names, wc.GetName())
		}
		for _, n := range names {
			out.Upstreams = append(out.Upstreams, describeCluster(f, n, clusters[n]))
		}
	}
	if rt.GetRedirect() != nil {
		out.Redirect = toMap(rt.GetRedirect())
	}
	if rt.GetDirectResponse() != nil {
		out.DirectResponse = toMap(rt.GetDirectResponse())
	}
	// CORS: Istio puts the VirtualService corsPolicy on the route as the cors filter's
	// per-route config (pilot/pkg/networking/core/route/route.go, TranslateCORSPolicy).
	if c := rt.GetTypedPerFilterConfig()[wellknown.CORS]; c != nil {
		out.Cors, out.CorsFrom = anyToMap(c), "route"
	} else if c := vh.GetTypedPerFilterConfig()[wellknown.CORS]; c != nil {
		out.Cors, out.CorsFrom = anyToMap(c), "virtual_host"
	}
	return out
}

func describeCluster(f *failer, name string, c *cluster.Cluster) UpstreamInfo {
	u := UpstreamInfo{Name: name}
	if c == nil {
		return u
	}
	u.Found = true
	u.LbPolicy = c.GetLbPolicy().String()
	// Envoy speaks HTTP/1.1 upstream unless the cluster's HttpProtocolOptions say otherwise;
	// Istio sets explicit HTTP/2 for gRPC/HTTP2 ports and for h2UpgradePolicy UPGRADE
	// (pilot/pkg/networking/core/cluster_builder.go: setUpstreamProtocol, setH2Options).
	u.Protocol = "http/1.1"
	if a := c.GetTypedExtensionProtocolOptions()[v3.HttpProtocolOptionsType]; a != nil {
		o := &upstreamhttp.HttpProtocolOptions{}
		if err := a.UnmarshalTo(o); err != nil {
			f.Fatalf("cluster %s: %v", name, err)
		}
		switch {
		case o.GetExplicitHttpConfig().GetHttp2ProtocolOptions() != nil:
			u.Protocol = "h2"
			u.HTTP2 = toMap(o.GetExplicitHttpConfig().GetHttp2ProtocolOptions())
		case o.GetUseDownstreamProtocolConfig() != nil:
			u.Protocol = "downstream"
		case o.GetAutoConfig() != nil:
			u.Protocol = "auto"
		}
		u.IdleTimeout = dur(o.GetCommonHttpProtocolOptions().GetIdleTimeout())
		if m := o.GetCommonHttpProtocolOptions().GetMaxRequestsPerConnection(); m != nil {
			v := m.GetValue()
			u.MaxRequestsPerConnection = &v
		}
	}
	if k := c.GetUpstreamConnectionOptions().GetTcpKeepalive(); k != nil {
		u.TCPKeepalive = toMap(k)
	}
	if od := c.GetOutlierDetection(); od != nil {
		u.OutlierDetection = toMap(od)
	}
	return u
}

func hcmSettings(h *hcm.HttpConnectionManager) map[string]any {
	m := map[string]any{
		// codec_type: AUTO serves HTTP/1.1 and HTTP/2 (prior knowledge on plaintext); HTTP2 only h2.
		"codec_type":          h.GetCodecType().String(),
		"stream_idle_timeout": dur(h.GetStreamIdleTimeout()),
		"request_timeout":     dur(h.GetRequestTimeout()),
		"idle_timeout":        dur(h.GetCommonHttpProtocolOptions().GetIdleTimeout()),
		"max_stream_duration": dur(h.GetCommonHttpProtocolOptions().GetMaxStreamDuration()),
	}
	m["max_connection_duration"] = dur(h.GetCommonHttpProtocolOptions().GetMaxConnectionDuration())
	m["drain_timeout"] = dur(h.GetDrainTimeout())
	if h.GetHttp2ProtocolOptions() != nil {
		m["http2_protocol_options"] = toMap(h.GetHttp2ProtocolOptions())
	}
	return m
}

func describeListeners(f *failer, ls []*listener.Listener) []ListenerInfo {
	out := []ListenerInfo{}
	for _, l := range ls {
		li := ListenerInfo{Name: l.Name, Port: l.GetAddress().GetSocketAddress().GetPortValue(), FilterChains: []FilterChainInfo{}}
		if b := l.GetPerConnectionBufferLimitBytes(); b != nil {
			v := b.GetValue()
			li.PerConnectionBufferLimitBytes = &v
		}
		for _, fc := range l.GetFilterChains() {
			info := describeChain(f, fc)
			li.FilterChains = append(li.FilterChains, info)
		}
		out = append(out, li)
	}
	return out
}

func describeChain(f *failer, fc *listener.FilterChain) FilterChainInfo {
	nw, hf := xdstest.ExtractFilterNames(f, fc)
	info := FilterChainInfo{
		Name:                 fc.Name,
		ServerNames:          nonNil(fc.GetFilterChainMatch().GetServerNames()),
		TransportProtocol:    fc.GetFilterChainMatch().GetTransportProtocol(),
		ApplicationProtocols: nonNil(fc.GetFilterChainMatch().GetApplicationProtocols()),
		NetworkFilters:       nw,
		HTTPFilters:          hf,
	}
	if h := xdstest.ExtractHTTPConnectionManager(f, fc); h != nil {
		info.RouteConfig = h.GetRds().GetRouteConfigName()
		info.HCM = hcmSettings(h)
	}
	if ts := fc.GetTransportSocket(); ts != nil {
		t := &tlsv3.DownstreamTlsContext{}
		if err := ts.GetTypedConfig().UnmarshalTo(t); err != nil {
			f.Fatalf("filter chain %v: %v", fc.GetFilterChainMatch().GetServerNames(), err)
		}
		ctx := t.GetCommonTlsContext()
		ti := &TLSInfo{ALPN: nonNil(ctx.GetAlpnProtocols()), CertificateSDS: []string{}, CipherSuites: []string{},
			RequireClientCertificate: t.GetRequireClientCertificate().GetValue()}
		for _, s := range ctx.GetTlsCertificateSdsSecretConfigs() {
			ti.CertificateSDS = append(ti.CertificateSDS, s.GetName())
		}
		if v := ctx.GetCombinedValidationContext(); v != nil {
			ti.ValidationSDS = v.GetValidationContextSdsSecretConfig().GetName()
		} else if v := ctx.GetValidationContextSdsSecretConfig(); v != nil {
			ti.ValidationSDS = v.GetName()
		}
		if p := ctx.GetTlsParams(); p != nil {
			ti.MinVersion = p.GetTlsMinimumProtocolVersion().String()
			if v := p.GetTlsMaximumProtocolVersion(); v != tlsv3.TlsParameters_TLS_AUTO {
				ti.MaxVersion = v.String()
			}
			ti.CipherSuites = nonNil(p.GetCipherSuites())
		}
		info.TLS = ti
	}
	return info
}

// sidecarView describes clusters as a mesh workload's sidecar receives them.
func sidecarView(f *failer, s *xds.FakeDiscoveryServer, sc Sidecar) SidecarResult {
	p := s.SetupProxy(&model.Proxy{
		ID:              sc.ID + "." + sc.Namespace,
		Type:            model.SidecarProxy,
		ConfigNamespace: sc.Namespace,
		IPAddresses:     []string{sc.PodIP},
		Labels:          sc.Labels,
		Metadata:        &model.NodeMetadata{Namespace: sc.Namespace, Labels: sc.Labels, IstioVersion: proxyVersion},
	})
	clusters := xdstest.ExtractClusters(s.Clusters(p))
	out := SidecarResult{ID: sc.ID, Clusters: []UpstreamInfo{}}
	for _, n := range sc.Clusters {
		out.Clusters = append(out.Clusters, describeCluster(f, n, clusters[n]))
	}
	return out
}

// validateXDS runs Istio's own checks on generated config (pilot/test/xdstest/validate.go:
// proto validation and the invariants Istio's tests hold every listener, cluster and route to).
func validateXDS(t *testing.T, sim *simulation.Simulation) []string {
	r := &tbRecorder{TB: t}
	r.run(func() {
		xdstest.ValidateListeners(r, sim.Listeners)
		xdstest.ValidateClusters(r, sim.Clusters)
		xdstest.ValidateRouteConfigurations(r, sim.Routes)
	})
	return r.errors
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// dur writes a duration as Envoy's JSON does ("120s", "0.500s"), nil when unset.
func dur(d *durationpb.Duration) *string {
	if d == nil {
		return nil
	}
	b, err := protojson.Marshal(d)
	if err != nil {
		s := err.Error()
		return &s
	}
	s := strings.Trim(string(b), `"`)
	return &s
}

func toMap(m proto.Message) map[string]any {
	b, err := protojson.Marshal(m)
	if err != nil {
		return map[string]any{"error": err.Error()}
	}
	return jsonMap(b)
}

func anyToMap(a *anypb.Any) map[string]any {
	m, err := a.UnmarshalNew()
	if err != nil {
		return map[string]any{"error": err.Error(), "type": a.GetTypeUrl()}
	}
	out := toMap(m)
	out["@type"] = strings.TrimPrefix(a.GetTypeUrl(), "type.googleapis.com/")
	return out
}

// envoyRoute is the first route of the virtual host whose path matcher matches the path as
// Envoy matches it (envoy/config/route/v3 RouteMatch): path_separated_prefix matches the
// prefix itself or the prefix followed by "/" (also "?" or "#"), safe_regex must match the
// whole path; prefix and path as in pilot/pkg/simulation matchRoute. Headers and query
// parameters are not looked at (CallResult.PathOnly).
func envoyRoute(vh *route.VirtualHost, path string) *route.Route {
	p := path
	if i := strings.IndexAny(p, "?#"); i >= 0 {
		p = p[:i]
	}
	for _, r := range vh.Routes {
		m := r.GetMatch()
		eq, prefix := func(a, b string) bool { return a == b }, strings.HasPrefix
		if m.GetCaseSensitive() != nil && !m.GetCaseSensitive().GetValue() {
			eq = strings.EqualFold
			prefix = func(s, pre string) bool { return len(s) >= len(pre) && strings.EqualFold(s[:len(pre)], pre) }
		}
		ok := false
		switch pt := m.GetPathSpecifier().(type) {
		case *route.RouteMatch_Prefix:
			ok = prefix(p, pt.Prefix)
		case *route.RouteMatch_PathSeparatedPrefix:
			sp := pt.PathSeparatedPrefix
			ok = eq(p, sp) || prefix(p, sp+"/")
		case *route.RouteMatch_Path:
			ok = eq(p, pt.Path)
		case *route.RouteMatch_SafeRegex:
			re, err := regexp.Compile("^(?:" + pt.SafeRegex.GetRegex() + ")$")
			ok = err == nil && re.MatchString(p)
		}
		if ok {
			return r
		}
	}
	return nil
}
