{{/*
The Gateway API side of the model (api: gateway-api): the same values, spelled as the
Kubernetes Gateway API that Istio serves. Three steps, each a no-op with api: istio:

  grpc-ingress.model.gatewayApi.target     after names: the gateway pods are the ones Istio
                                           deploys for the Gateway (or the parent's)
  grpc-ingress.model.gatewayApi.listeners  after listeners: one HTTPS listener per host
  grpc-ingress.model.gatewayApi.routes     after passThrough: GRPCRoute or HTTPRoute per
                                           route, ReferenceGrants, and the refusals

model.gatewayApi (printed by gatewayapi-*.yaml):
  gateway          {name, namespace, className, labels, annotations, listeners} or {} when
                   the routes attach to an existing Gateway
  routes           list, in model.routes order, of {kind, name, rule, reasons}
  hostnames        the routes' hostnames (hosts: on a listener without a hostname, the
                   h2c one, Istio serves a route without them on every :authority)
  parentRefs       where call routes attach; redirect: {name, parentRefs} or {}
  referenceGrants  list of {name, namespace, from, to}
  retries          {name, routes: list of {route (the rule's, so the Envoy route's, name),
                   policy (Envoy RetryPolicy fields)}}: the retries EnvoyFilter

What Istio does with these objects, read in its source (pilot/pkg/config/kube/gateway/
conversion.go unless said otherwise), and which the chart relies on:
- buildListener/buildTLS: an HTTPS listener is one Istio server with hosts [hostname];
  tls.mode Terminate is SIMPLE, the option gateway.istio.io/tls-terminate-mode MUTUAL or
  OPTIONAL_MUTUAL (1.24+) verifies clients with <secret>-cacert, gateway.istio.io/
  tls-cipher-suites (1.29+) sets ciphers; min/max TLS versions and SANs are "Not yet
  implemented", so they are refused here. A certificateRef to another namespace needs a
  ReferenceGrant (grants.SecretAllowed).
- listenerProtocolToIstio: HTTP, HTTPS, TLS, TCP only: no GRPC or GRPC-WEB protocol. h2c
  and plaintext gRPC-Web are HTTP listeners: Istio gives every gateway HTTP connection manager
  the AUTO codec (buildHTTPConnectionManager in pilot/pkg/networking/core/listener_builder.go),
  which serves HTTP/2 prior knowledge on plaintext; the grpc_web filter comes from the chart's
  EnvoyFilter, on plaintext as on TLS.
- convertGRPCRoute: method matches become the same /pkg.Service/ prefix and
  /pkg.Service/Method exact matches the VirtualService has; no timeout, retry or CORS.
  A rule's name becomes the Envoy route's name (vs.Name; else <ns>.<route>.<position>).
- convertHTTPRoute: timeouts.request is the route timeout (1.24+), the CORS filter the
  corsPolicy (1.26+; createCorsFilter), retry the retries (experimental channel only: the
  standard CRDs have no retry field). A route without retry gets Istio's default policy
  (DefaultPolicy in pilot/pkg/networking/core/route/retry/retry.go: 2 attempts on
  connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes), which would
  replay streams; an EnvoyFilter MERGE per route (gatewayapi-retries.yaml) sets the chart's.
- buildDestination: a backendRef names a Service (name, namespace) or, 1.26+, an Istio
  Hostname (a ServiceEntry host); another namespace needs a ReferenceGrant; there are no
  DestinationRule subsets.
- GetDefaultName (pilot/pkg/config/kube/gatewaycommon/gateway_utils.go): the deployment and
  Service Istio makes for a Gateway are <name>-<gatewayClassName>, in its namespace, pods
  labelled gateway.networking.k8s.io/gateway-name: <name>, binding each listener's port.
*/}}

{{/*
Point the gateway model at the Gateway API gateway pods: include "grpc-ingress.model.gatewayApi.target" (list $ $model)
(after names). Sets model.api and names.certificateNamespace in either mode.
*/}}
{{- define "grpc-ingress.model.gatewayApi.target" -}}
{{- $root := index . 0 -}}
{{- $model := index . 1 -}}
{{- $values := $root.Values -}}
{{- $names := $model.names -}}
{{- $_ := set $model "api" $values.api -}}
{{- $_ := set $names "certificateNamespace" $names.workloadNamespace -}}
{{- if eq $values.api "gateway-api" -}}
{{- $gapi := $values.gatewayApi -}}
{{- $errors := list -}}
{{- $gateway := $values.gateway -}}
{{- $name := $names.gateway -}}
{{- $namespace := $names.gatewayNamespace -}}
{{- $parentRefs := list -}}
{{- if $gateway.create -}}
  {{- if $gapi.parentRefs -}}
    {{- $errors = append $errors "gatewayApi.parentRefs: routes attach to an existing Gateway only with gateway.create: false, and gateway.create is true (the chart renders its own Gateway); set gateway.create: false, or remove parentRefs" -}}
  {{- end -}}
  {{- /* Istio names the gateway's Deployment and Service <name>-<gatewayClassName>
         (GetDefaultName in pilot/pkg/config/kube/gatewaycommon/gateway_utils.go) and labels
         its pods service.istio.io/canonical-name: <name>-<gatewayClassName> (kube-gateway.yaml);
         Kubernetes' validation refuses a Service name or a label value over 63 characters, so
         neither would exist (tests/test_istio_gateway_api.py asks it). A name the user gave is
         refused; a name taken from the release is fitted, hash and all, like every name. */ -}}
  {{- $max := int (sub 62 (len $gapi.gatewayClassName)) -}}
  {{- if and (eq $gapi.gatewayClassName "istio") (gt (len $name) $max) -}}
    {{- if $gateway.name -}}
      {{- $errors = append $errors (printf "gateway.name: %s is %d characters, and with api: gateway-api Istio names the gateway's Service and Deployment %s-%s (%d characters) and labels its pods with that name, which Kubernetes refuses over 63 characters, so the gateway never runs; set gateway.name to at most %d characters" (toJson $name) (len $name) $name $gapi.gatewayClassName (add (len $name) 1 (len $gapi.gatewayClassName)) $max) -}}
    {{- else -}}
      {{- $name = include "grpc-ingress.fit" (list $max $name) -}}
      {{- $_ := set $names "gateway" $name -}}
      {{- $_ := set $names "gatewayRef" (printf "%s/%s" $namespace $name) -}}
    {{- end -}}
  {{- end -}}
  {{- /* Istio's deployment controller writes the Gateway's name unquoted into the gateway
         Service's and Deployment's ownerReferences, the Service's selector and the
         Deployment's matchLabels (manifests/charts/istio-control/istio-discovery/files/
         kube-gateway.yaml: "{{.GatewayNameLabel}}": {{.Name}}) and reads the result as YAML
         with sigs.k8s.io/yaml (DeploymentController.render in
         pilot/pkg/config/kube/gatewaycommon/deploymentcontroller.go). A name YAML takes for a
         number or a boolean (123, 1e3, 0x1f, y, no, on) becomes one there: Kubernetes' own
         decoding of the Service and of the Deployment refuses it ("json: cannot unmarshal
         number into Go struct field OwnerReference.metadata.ownerReferences.name of type
         string"); null decodes to an empty ownerReference name, which its validation refuses.
         Either way the gateway never runs. tests/test_istio_gateway_api.py asks Kubernetes'
         code about what Istio's controller applies for each name. Helm's fromYaml reads with
         the same library, so it answers as Istio's controller will. */ -}}
  {{- if eq $gapi.gatewayClassName "istio" -}}
    {{- $given := ternary (toJson $name) (printf "unset, so the Gateway takes the release's full name %s, which" (toJson $name)) (not (empty $gateway.name)) -}}
    {{- $read := get (printf "name: %s" $name | fromYaml) "name" -}}
    {{- if not (kindIs "string" $read) -}}
      {{- $as := printf "number %v" $read -}}
      {{- if kindIs "bool" $read -}}{{- $as = printf "boolean %v" $read -}}{{- else if kindIs "invalid" $read -}}{{- $as = "null" -}}{{- end -}}
      {{- $errors = append $errors (printf "gateway.name: %s reads as the YAML %s, and with api: gateway-api Istio's deployment controller writes the Gateway's name unquoted into its gateway Service's selector and Deployment's matchLabels (kube-gateway.yaml), so the API server refuses both and the gateway never runs; set gateway.name to a name YAML reads as text (with a letter that is not only a YAML word such as yes, no, on, off, y or n: gw-%s)" $given $as $name) -}}
    {{- else if regexMatch "^[0-9]" $name -}}
      {{- /* The Service <name>-istio: the API server takes a Service name that is a DNS-1035
             label, starting with a letter (ValidateServiceName), unless the
             RelaxedServiceNameValidation feature gate is on (KEP-5311: alpha in 1.34, off by
             default); the Deployment exists, but nothing reaches it. */ -}}
      {{- $errors = append $errors (printf "gateway.name: %s starts with a digit, and with api: gateway-api Istio names the gateway's Service %s-istio, which Kubernetes refuses unless the cluster turns on the RelaxedServiceNameValidation feature gate (alpha since 1.34, off by default): a Service name starts with a letter, so no Service would reach the gateway; set gateway.name to a name that starts with a letter (%s)" $given $name (include "grpc-ingress.fit" (list $max (printf "gw-%s" $name)))) -}}
    {{- end -}}
  {{- end -}}
{{- else -}}
  {{- range $gapi.parentRefs -}}
    {{- $ref := dict "name" .name "namespace" (.namespace | default $root.Release.Namespace) -}}
    {{- with .sectionName -}}{{- $_ := set $ref "sectionName" . -}}{{- end -}}
    {{- $parentRefs = append $parentRefs $ref -}}
  {{- end -}}
  {{- if and (not $parentRefs) $gateway.ref -}}
    {{- $parts := splitList "/" $gateway.ref -}}
    {{- $parentRefs = list (dict "name" (last $parts) "namespace" (first $parts)) -}}
  {{- end -}}
  {{- with $parentRefs -}}{{- $name = (first .).name -}}{{- $namespace = (first .).namespace -}}{{- end -}}
{{- end -}}
{{- /* Istio deploys the pods, so the Istio-mode knobs for them have nothing to act on (and
       _gateway.tpl does not ask for them with gateway.install custom). */ -}}
{{- if $gateway.selector -}}
  {{- $errors = append $errors (printf "gateway.selector: %s, but with api: gateway-api Istio deploys the gateway pods itself and labels them gateway.networking.k8s.io/gateway-name: %s, which the chart selects; remove gateway.selector" (toJson $gateway.selector) $name) -}}
{{- end -}}
{{- if and $gateway.workloadNamespace (ne $gateway.workloadNamespace $namespace) -}}
  {{- $errors = append $errors (printf "gateway.workloadNamespace: %s, but with api: gateway-api the gateway pods run in the Gateway's namespace (%s); remove gateway.workloadNamespace, or set gateway.namespace to it" $gateway.workloadNamespace $namespace) -}}
{{- end -}}
{{- if $gateway.servicePorts -}}
  {{- $errors = append $errors (printf "gateway.servicePorts: %s, but with api: gateway-api the gateway Service exposes each listener's port and the pods bind that same port; remove gateway.servicePorts (the ports are tls.port, h2c.port, tls.redirectPort and grpcWeb.port)" (toJson $gateway.servicePorts)) -}}
{{- end -}}
{{- /* Every listener port is a Service port bound as itself. */ -}}
{{- $ports := dict -}}
{{- range list $values.tls.port $values.h2c.port $values.tls.redirectPort $values.grpcWeb.port -}}{{- $_ := set $ports (toString .) (int .) -}}{{- end -}}
{{- $service := printf "%s-%s" $name $gapi.gatewayClassName -}}
{{- $gw := $model.gateway -}}
{{- $_ := set $gw "install" "gateway-api" -}}
{{- $_ := set $gw "service" $service -}}
{{- $_ := set $gw "workloadNamespace" $namespace -}}
{{- $_ := set $gw "selector" (dict "gateway.networking.k8s.io/gateway-name" $name) -}}
{{- $_ := set $gw "servicePorts" $ports -}}
{{- $_ := set $gw "portList" "each listener's own port" -}}
{{- $_ := set $gw "testAddress" ($values.tests.gatewayAddress | default (printf "%s.%s.svc.%s" $service $namespace $values.clusterDomain)) -}}
{{- $_ := set $names "workloadNamespace" $namespace -}}
{{- $_ := set $names "envoyFilterNamespace" ($values.grpcWeb.envoyFilter.namespace | default $namespace) -}}
{{- $_ := set $names "certificateNamespace" ($gapi.certificateNamespace | default $namespace) -}}
{{- $_ := set $model "gatewayApi" (dict "parentRefs" $parentRefs "gateway" dict "redirect" dict "routes" list "referenceGrants" list "hostnames" $values.hosts) -}}
{{- $_ := set $model "errors" (concat $model.errors $errors) -}}
{{- end -}}
{{- end -}}

{{/*
Gateway API listeners: include "grpc-ingress.model.gatewayApi.listeners" (list $ $model)
(after listeners, before connection). A Gateway API listener has one hostname, so each HTTPS
listener of the model becomes one per host, each its own Istio server and filter chain
(SNI: that host); the gRPC-Web and connection EnvoyFilters patch every one of them.
Plaintext listeners keep no hostname: the routes' hostnames scope them, as the servers'
hosts do in the Istio mode. model.gatewayApi.gateway gets the listeners when the chart
renders the Gateway.
*/}}
{{- define "grpc-ingress.model.gatewayApi.listeners" -}}
{{- $root := index . 0 -}}
{{- $model := index . 1 -}}
{{- $values := $root.Values -}}
{{- if eq $values.api "gateway-api" -}}
{{- $listeners := list -}}
{{- $snis := list -}}
{{- $https := 0 -}}
{{- range $model.listeners -}}
  {{- /* The pods Istio deploys bind each listener port as itself. */ -}}
  {{- $listener := . -}}
  {{- if eq .protocol "HTTPS" -}}
    {{- range $host := .hosts -}}
      {{- $https = add1 $https -}}
      {{- $listeners = append $listeners (merge (dict "name" (printf "https-%d" $https) "bindPort" $listener.port "hosts" (list $host) "hostname" $host) $listener) -}}
      {{- $snis = append $snis $host -}}
    {{- end -}}
  {{- else -}}
    {{- $listeners = append $listeners (merge (dict "bindPort" .port) .) -}}
  {{- end -}}
{{- end -}}
{{- $_ := set $model "listeners" $listeners -}}
{{- $web := $model.envoyFilter -}}
{{- if $values.gateway.create -}}{{- if $values.tls.enabled -}}
  {{- $_ := set $web "snis" $snis -}}
{{- end -}}{{- end -}}
{{- /* Plaintext gRPC-Web: no GRPC-WEB protocol here, so the same EnvoyFilter patches the HTTP
       listener's one chain, matched by port alone (sni ""). */ -}}
{{- if and $values.grpcWeb.enabled (not $values.tls.enabled) -}}
  {{- $_ := set $web "enabled" $web.wanted -}}
  {{- $_ := set $web "port" (int $values.grpcWeb.port) -}}
  {{- $_ := set $web "snis" (list "") -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/*
A Go duration as the Gateway API writes one (1 to 4 parts of at most 5 digits, h m s ms):
include "grpc-ingress.gatewayApi.duration" "1.5s" -> 1s500ms
*/}}
{{- define "grpc-ingress.gatewayApi.duration" -}}
{{- $ms := include "grpc-ingress.durationMs" . | atoi -}}
{{- $out := "" -}}
{{- $h := div $ms 3600000 -}}{{- if $h -}}{{- $out = printf "%dh" $h -}}{{- end -}}
{{- $m := mod (div $ms 60000) 60 -}}{{- if $m -}}{{- $out = printf "%s%dm" $out $m -}}{{- end -}}
{{- $s := mod (div $ms 1000) 60 -}}{{- if $s -}}{{- $out = printf "%s%ds" $out $s -}}{{- end -}}
{{- $rest := mod $ms 1000 -}}{{- if $rest -}}{{- $out = printf "%s%dms" $out $rest -}}{{- end -}}
{{- $out | default "0s" -}}
{{- end -}}

{{/*
Routes, Gateway, ReferenceGrants and the Gateway-API-only refusals:
include "grpc-ingress.model.gatewayApi.routes" (list $ $model)   (after passThrough)

Which kind: GRPCRoute, unless a route needs what only HTTPRoute has:
  timeout  a unary route's timeout (timeouts.request; GRPCRoute has no timeouts)
  cors     gRPC-Web's CORS policy (the CORS filter; GRPCRoute has no filters for it)
  match    a raw prefix or regex (GRPCRoute matches services and methods only)
  one-kind on Istio 1.26 to 1.29, any route, once one route is an HTTPRoute. There Istio
           turns the rules of each kind on a gateway and hostname into a VirtualService named
           by that key (parent and hostname: buildMeshAndGatewayRoutes and mergeHTTPRoutes in
           pilot/pkg/config/kube/gateway/route_collections.go), the same name for both kinds,
           and only one of the two takes effect. 1.24 and 1.25 built one VirtualService per
           gateway and hostname for both kinds (convertVirtualService in conversion.go: one
           gatewayRoutes map, sortHTTPRoutes), and 1.30 merges the kinds again and sorts the
           rules by match (istio/istio#59222, commit 1e78c9d; controller.go: httpAndGrpcVS),
           so there the kinds mix freely.
An HTTPRoute matches the gRPC path as the VirtualService does: PathPrefix /pkg.Service/ and
Exact /pkg.Service/Method.
*/}}
{{- define "grpc-ingress.model.gatewayApi.routes" -}}
{{- $root := index . 0 -}}
{{- $model := index . 1 -}}
{{- $values := $root.Values -}}
{{- if eq $values.api "gateway-api" -}}
{{- $gapi := $model.gatewayApi -}}
{{- $names := $model.names -}}
{{- $errors := list -}}
{{- $version := $values.istio.version | replace "1." "" | int -}}
{{- $releaseNs := $root.Release.Namespace -}}
{{- $tls := $values.tls -}}

{{- /* hosts: every route carries all of them; a route takes at most 16 hostnames. */ -}}
{{- if gt (len $values.hosts) 16 -}}
  {{- $errors = append $errors (printf "hosts: %d hosts, but a Gateway API route takes at most 16 hostnames (HTTPRoute and GRPCRoute spec.hostnames); serve at most 16 hosts per release (wildcards such as *.example.com cover many), or keep api: istio" (len $values.hosts)) -}}
{{- end -}}

{{- /* TLS settings Istio's Gateway API conversion does not implement (buildTLS). */ -}}
{{- if $tls.enabled -}}
  {{- if ne $tls.minProtocolVersion "TLSV1_2" -}}
    {{- $errors = append $errors (printf "tls.minProtocolVersion: %s, but Istio's Gateway API listeners have no minimum TLS version setting (buildTLS in pilot/pkg/config/kube/gateway/conversion.go): Istio writes none, so Envoy's default minimum for servers, TLS 1.2, applies; use TLSV1_2, or keep api: istio" $tls.minProtocolVersion) -}}
  {{- end -}}
  {{- with $tls.maxProtocolVersion -}}
    {{- $errors = append $errors (printf "tls.maxProtocolVersion: %s, but Istio's Gateway API listeners have no maximum TLS version setting (buildTLS: not implemented); leave it empty, or keep api: istio" .) -}}
  {{- end -}}
  {{- with $tls.subjectAltNames -}}
    {{- $errors = append $errors (printf "tls.subjectAltNames: %s, but Istio's Gateway API listeners cannot match client certificate SANs (buildTLS: not implemented); remove them (every certificate the CA signed is accepted), or keep api: istio" (toJson .)) -}}
  {{- end -}}
  {{- if and $tls.cipherSuites (lt $version 29) -}}
    {{- $errors = append $errors (printf "tls.cipherSuites: Istio %s reads no cipher suites from a Gateway API listener (the gateway.istio.io/tls-cipher-suites option arrived in 1.29); remove them, set istio.version to 1.29 or later, or keep api: istio" $values.istio.version) -}}
  {{- end -}}
{{- end -}}

{{- /* Retries: the standard channel has no retry field (HTTPRoute retry is experimental,
       GRPCRoute has none), so Istio gives every route its default policy (DefaultPolicy in
       pilot/pkg/networking/core/route/retry/retry.go). The chart's own policy reaches each
       route through an EnvoyFilter MERGE instead (gatewayapi-retries.yaml). A MERGE cannot
       turn retries off: Istio's merge (Merge in pkg/proto/merge/merge.go, as proto.Merge)
       skips zero values, so num_retries 0 leaves the default 2, and nothing removes the
       policy that ConvertPolicy drops for attempts 0. attempts 0 is refused, not dropped. */ -}}
{{- $offNote := "but with api: gateway-api the chart sets retries through an EnvoyFilter MERGE on Istio's default policy (2 attempts on connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes), and a MERGE cannot zero or remove it (Merge in Istio's pkg/proto/merge skips zero values)" -}}
{{- range $kind := list "unary" "streaming" -}}
  {{- if eq (int (get $values.retries $kind).attempts) 0 -}}
    {{- $errors = append $errors (printf "retries.%s.attempts: 0, %s; set attempts to 1 or more with a narrow retryOn (connect-failure,refused-stream retries only calls that never reached the backend), or keep api: istio" $kind $offNote) -}}
  {{- end -}}
{{- end -}}

{{- /* gRPC-Web: CORS origins as the Gateway API writes them (exact origins, "*"). */ -}}
{{- $cors := dict -}}
{{- if $model.cors -}}
  {{- if lt $version 26 -}}
    {{- $errors = append $errors (printf "grpcWeb.enabled: Istio %s does not convert the HTTPRoute CORS filter (createCorsFilter arrived in 1.26), so browsers' preflights would fail; set istio.version to 1.26 or later, or keep api: istio" $values.istio.version) -}}
  {{- end -}}
  {{- $origins := list -}}
  {{- range $index, $origin := $values.grpcWeb.cors.allowOrigins -}}
    {{- $exact := "" -}}
    {{- if kindIs "string" $origin -}}{{- $exact = $origin -}}{{- else if hasKey $origin "exact" -}}{{- $exact = $origin.exact -}}{{- end -}}
    {{- if or (eq $exact "*") (regexMatch "^https?://[a-zA-Z0-9.-]+(:[0-9]{1,5})?$" $exact) -}}
      {{- $origins = append $origins $exact -}}
    {{- else -}}
      {{- $errors = append $errors (printf "grpcWeb.cors.allowOrigins[%d]: %s, but a Gateway API CORS origin is an exact scheme://host[:port] (http or https), or \"*\" for every origin, and the chart writes no prefix, regex or wildcard-host matches; list each origin exactly, or keep api: istio" $index (toJson $origin)) -}}
    {{- end -}}
  {{- end -}}
  {{- /* A set: no repeats, and "*" alone (it allows every origin anyway). */ -}}
  {{- $origins = uniq $origins -}}
  {{- if has "*" $origins -}}{{- $origins = list "*" -}}{{- end -}}
  {{- $c := $model.cors -}}
  {{- $cors = dict "allowOrigins" $origins "allowMethods" $c.allowMethods "allowHeaders" $c.allowHeaders "exposeHeaders" $c.exposeHeaders "maxAge" (div (include "grpc-ingress.durationMs" $c.maxAge | atoi) 1000) -}}
  {{- if $c.allowCredentials -}}{{- $_ := set $cors "allowCredentials" true -}}{{- end -}}
  {{- if or (lt (int64 $cors.maxAge) 1) (gt (int64 $cors.maxAge) 2147483647) -}}
    {{- $errors = append $errors (printf "grpcWeb.cors.maxAge: %s, but the Gateway API counts it in whole seconds, from 1 to 2147483647 (an int32); use a value in that range (browsers cap it at hours anyway), or keep api: istio" $values.grpcWeb.cors.maxAge) -}}
  {{- end -}}
{{- end -}}

{{- /* Per route: what it needs, its matches and backends. */ -}}
{{- $entries := list -}}
{{- $domainSuffix := printf ".svc.%s" $values.clusterDomain -}}
{{- $grants := dict -}}
{{- range $entry := $model.routes -}}
  {{- $route := $entry.route -}}
  {{- $where := $entry.where -}}
  {{- $reasons := list -}}
  {{- if and $route.timeout (not $route.streaming) -}}
    {{- $reasons = append $reasons "timeout" -}}
    {{- /* A Gateway API Duration has at most 5 digits per unit (GEP-2257): 99999h59m59s999ms. */ -}}
    {{- if gt (include "grpc-ingress.durationMs" $route.timeout | atoi) 359999999999 -}}
      {{- $errors = append $errors (printf "%s.timeout: %s, but a Gateway API duration holds at most 99999h59m59s999ms (timeouts.request); use a shorter timeout, or keep api: istio" $where $route.timeout) -}}
    {{- end -}}
  {{- end -}}
  {{- if $cors -}}{{- $reasons = append $reasons "cors" -}}{{- end -}}
  {{- if or $route.prefix $route.regex -}}{{- $reasons = append $reasons "match" -}}{{- end -}}
  {{- with $route.prefix -}}{{- if and (ne . "/") (not (hasSuffix "/" .)) -}}
    {{- $errors = append $errors (printf "%s.prefix: %s, but a Gateway API PathPrefix matches whole path segments (%s and %s/..., not %sX), which the VirtualService's prefix does not; end the prefix with / (or match services and methods), or keep api: istio" $where . . . .) -}}
  {{- end -}}{{- end -}}
  {{- if $route.retries -}}{{- if eq (int $route.retries.attempts) 0 -}}
    {{- $errors = append $errors (printf "%s.retries.attempts: 0, %s; set attempts to 1 or more with a narrow retryOn (connect-failure,refused-stream), or keep api: istio" $where $offNote) -}}
  {{- end -}}{{- end -}}
  {{- $matchCount := add (len ($route.services | default list)) (len ($route.methods | default list)) -}}
  {{- if gt $matchCount 64 -}}
    {{- $errors = append $errors (printf "%s.services: %d services and methods, but a Gateway API route rule takes at most 64 matches; split the route in two, or keep api: istio" $where $matchCount) -}}
  {{- end -}}
  {{- /* Backends: a Service by name and namespace, or an Istio Hostname (ServiceEntry). */ -}}
  {{- $refs := list -}}
  {{- range $j, $backend := $entry.backends -}}
    {{- $at := ternary (printf "%s.backend" $where) (printf "%s.backends[%d]" $where $j) (not (not $route.backend)) -}}
    {{- if .subset -}}
      {{- $errors = append $errors (printf "%s.subset: %s (of %s), but a Gateway API backendRef names a Service, not a DestinationRule subset (Istio's buildDestination has no subsets); give each version its own Service (backendServices can render them, selecting the version's labels) and weight those, or keep api: istio" $at .subset .host) -}}
    {{- end -}}
    {{- $ref := dict "port" (int .port) -}}
    {{- $labels := splitList "." .host -}}
    {{- if eq (len $labels) 1 -}}
      {{- $_ := set $ref "name" .host -}}
    {{- else if and (hasSuffix $domainSuffix .host) (eq (len $labels) (add 3 (len (splitList "." $values.clusterDomain)))) -}}
      {{- $_ := set $ref "name" (first $labels) -}}
      {{- $ns := index $labels 1 -}}
      {{- if ne $ns $releaseNs -}}
        {{- $_ := set $ref "namespace" $ns -}}
        {{- $grant := get $grants $ns | default dict -}}
        {{- $_ := set $grant (first $labels) true -}}
        {{- $_ := set $grants $ns $grant -}}
      {{- end -}}
    {{- else -}}
      {{- if lt $version 26 -}}
        {{- $errors = append $errors (printf "%s.host: %s is not a Kubernetes Service, and Istio %s routes Gateway API backendRefs to Services only (the networking.istio.io Hostname kind arrived in 1.26); set istio.version to 1.26 or later, or keep api: istio" $at .host $values.istio.version) -}}
      {{- end -}}
      {{- $_ := set $ref "group" "networking.istio.io" -}}
      {{- $_ := set $ref "kind" "Hostname" -}}
      {{- $_ := set $ref "name" .host -}}
    {{- end -}}
    {{- if $entry.weighted -}}{{- $_ := set $ref "weight" (int (.weight | default 0)) -}}{{- end -}}
    {{- $refs = append $refs $ref -}}
  {{- end -}}
  {{- $entries = append $entries (dict "entry" $entry "reasons" $reasons "backendRefs" $refs) -}}
{{- end -}}

{{- /* one-kind: on Istio 1.26 to 1.29 a release's routes are all of one kind (see above). */ -}}
{{- if and (ge $version 26) (lt $version 30) -}}
  {{- $anyHttp := false -}}
  {{- range $entries -}}{{- if .reasons -}}{{- $anyHttp = true -}}{{- end -}}{{- end -}}
  {{- if $anyHttp -}}{{- range $entries -}}{{- if not .reasons -}}{{- $_ := set . "reasons" (list "one-kind") -}}{{- end -}}{{- end -}}{{- end -}}
{{- end -}}

{{- /* The rules as printed. */ -}}
{{- $routes := list -}}
{{- $kinds := dict -}}
{{- $retries := list -}}
{{- range $entries -}}
  {{- $route := .entry.route -}}
  {{- $objectName := include "grpc-ingress.fit" (printf "%s-%s" $names.fullname $route.name) -}}
  {{- /* The rule's name is the Envoy route's name (convertGRPCRoute/convertHTTPRoute: vs.Name =
         rule name, else <ns>.<route>.<position>; TranslateRoute in pilot/pkg/networking/core/
         route/route.go: route name = vs.Name), which the retries EnvoyFilter matches. Unique
         on a shared Gateway: the namespace and the object name, fitted to 63 with a hash. */ -}}
  {{- $ruleName := include "grpc-ingress.fit" (printf "%s-%s" $releaseNs $objectName) -}}
  {{- $rule := dict "name" $ruleName -}}
  {{- /* The route's effective policy as ConvertPolicy (pilot/pkg/networking/core/route/retry/
         retry.go) writes the VirtualService's: num_retries = attempts; retryOn split by
         parseRetryOn into named conditions and HTTP status codes, ",retriable-status-codes"
         added when there are codes and it is not named; no retryOn keeps the default's
         (the MERGE leaves retry_on alone); per_try_timeout as given. */ -}}
  {{- $given := .entry.retries -}}
  {{- $policy := dict "num_retries" (int $given.attempts) -}}
  {{- with $given.retryOn -}}
    {{- $named := list -}}{{- $codes := list -}}
    {{- range splitList "," . -}}{{- $t := trim . -}}{{- if $t -}}
      {{- if regexMatch "^[0-9]+$" $t -}}{{- $codes = append $codes (int $t) -}}{{- else -}}{{- $named = append $named $t -}}{{- end -}}
    {{- end -}}{{- end -}}
    {{- $on := join "," $named -}}
    {{- if and $codes (not (contains "retriable-status-codes" $on)) -}}{{- $on = printf "%s,retriable-status-codes" $on -}}{{- end -}}
    {{- $_ := set $policy "retry_on" $on -}}
    {{- with $codes -}}{{- $_ := set $policy "retriable_status_codes" . -}}{{- end -}}
  {{- end -}}
  {{- with $given.perTryTimeout -}}{{- $_ := set $policy "per_try_timeout" (include "grpc-ingress.protoDuration" .) -}}{{- end -}}
  {{- if gt (int $given.attempts) 0 -}}{{- $retries = append $retries (dict "route" $ruleName "policy" $policy) -}}{{- end -}}
  {{- $kind := "GRPCRoute" -}}
  {{- $matches := list -}}
  {{- if .reasons -}}
    {{- $kind = "HTTPRoute" -}}
    {{- range $route.services -}}{{- $matches = append $matches (dict "path" (dict "type" "PathPrefix" "value" (printf "/%s/" .))) -}}{{- end -}}
    {{- range $route.methods -}}{{- $matches = append $matches (dict "path" (dict "type" "Exact" "value" (printf "/%s" .))) -}}{{- end -}}
    {{- with $route.prefix -}}{{- $matches = append $matches (dict "path" (dict "type" "PathPrefix" "value" .)) -}}{{- end -}}
    {{- with $route.regex -}}{{- $matches = append $matches (dict "path" (dict "type" "RegularExpression" "value" .)) -}}{{- end -}}
    {{- if and $route.timeout (not $route.streaming) -}}{{- $_ := set $rule "timeouts" (dict "request" (include "grpc-ingress.gatewayApi.duration" $route.timeout)) -}}{{- end -}}
    {{- if $cors -}}{{- $_ := set $rule "filters" (list (dict "type" "CORS" "cors" $cors)) -}}{{- end -}}
  {{- else -}}
    {{- range $route.services -}}{{- $matches = append $matches (dict "method" (dict "type" "Exact" "service" .)) -}}{{- end -}}
    {{- range $route.methods -}}{{- $parts := splitList "/" . -}}{{- $matches = append $matches (dict "method" (dict "type" "Exact" "service" (first $parts) "method" (last $parts))) -}}{{- end -}}
  {{- end -}}
  {{- with $matches -}}{{- $_ := set $rule "matches" . -}}{{- end -}}
  {{- $_ := set $rule "backendRefs" .backendRefs -}}
  {{- $_ := set $kinds $kind true -}}
  {{- $routes = append $routes (dict "kind" $kind "name" $objectName "rule" $rule "reasons" (join ", " .reasons)) -}}
{{- end -}}
{{- $_ := set $gapi "routes" $routes -}}
{{- $_ := set $gapi "retries" (dict "name" (include "grpc-ingress.fit" (printf "%s-retries" $names.fullname)) "routes" $retries) -}}
{{- $routeKinds := list -}}
{{- range $kind, $_ := $kinds -}}{{- $routeKinds = append $routeKinds (dict "group" "gateway.networking.k8s.io" "kind" $kind) -}}{{- end -}}

{{- /* The Gateway, and where call routes attach. */ -}}
{{- if $values.gateway.create -}}
  {{- $gwName := $names.gateway -}}
  {{- $gwNs := $names.gatewayNamespace -}}
  {{- $namespaces := dict "from" "Same" -}}
  {{- if ne $gwNs $releaseNs -}}
    {{- $namespaces = dict "from" "Selector" "selector" (dict "matchLabels" (dict "kubernetes.io/metadata.name" $releaseNs)) -}}
  {{- end -}}
  {{- $certNs := $names.certificateNamespace -}}
  {{- $listeners := list -}}
  {{- $parentRefs := list -}}
  {{- $secrets := dict -}}
  {{- range $model.listeners -}}
    {{- $listener := dict "name" .name "port" .port "protocol" (ternary "HTTPS" "HTTP" (eq .protocol "HTTPS")) -}}
    {{- with .hostname -}}{{- $_ := set $listener "hostname" . -}}{{- end -}}
    {{- if .tls -}}
      {{- $ref := dict "group" "" "kind" "Secret" "name" .tls.credentialName -}}
      {{- if ne $certNs $gwNs -}}{{- $_ := set $ref "namespace" $certNs -}}{{- end -}}
      {{- $_ := set $secrets .tls.credentialName true -}}
      {{- $listenerTls := dict "mode" "Terminate" "certificateRefs" (list $ref) -}}
      {{- $options := dict -}}
      {{- if ne $tls.mode "SIMPLE" -}}
        {{- $_ := set $options "gateway.istio.io/tls-terminate-mode" $tls.mode -}}
        {{- $_ := set $secrets (printf "%s-cacert" .tls.credentialName) true -}}
      {{- end -}}
      {{- with $tls.cipherSuites -}}{{- $_ := set $options "gateway.istio.io/tls-cipher-suites" (join "," .) -}}{{- end -}}
      {{- with $options -}}{{- $_ := set $listenerTls "options" . -}}{{- end -}}
      {{- $_ := set $listener "tls" $listenerTls -}}
    {{- end -}}
    {{- if .httpsRedirect -}}
      {{- $_ := set $listener "allowedRoutes" (dict "namespaces" $namespaces "kinds" (list (dict "group" "gateway.networking.k8s.io" "kind" "HTTPRoute"))) -}}
      {{- $_ := set $gapi "redirect" (dict "name" (include "grpc-ingress.fit" (printf "%s-https-redirect" $names.fullname)) "parentRefs" (list (dict "name" $gwName "namespace" $gwNs "sectionName" .name))) -}}
    {{- else -}}
      {{- $_ := set $listener "allowedRoutes" (dict "namespaces" $namespaces "kinds" $routeKinds) -}}
      {{- $parentRefs = append $parentRefs (dict "name" $gwName "namespace" $gwNs "sectionName" .name) -}}
    {{- end -}}
    {{- $listeners = append $listeners $listener -}}
  {{- end -}}
  {{- if gt (len $parentRefs) 32 -}}
    {{- $errors = append $errors (printf "hosts: the Gateway has %d listeners for calls (one HTTPS listener per host), but a route attaches to at most 32; serve fewer hosts per release (wildcards cover many), or keep api: istio" (len $parentRefs)) -}}
  {{- end -}}
  {{- $_ := set $gapi "parentRefs" $parentRefs -}}
  {{- $_ := set $gapi "gateway" (dict "name" $gwName "namespace" $gwNs "className" $values.gatewayApi.gatewayClassName "labels" $values.gatewayApi.labels "annotations" $values.gatewayApi.annotations "listeners" $listeners) -}}
  {{- /* The Gateway reads certificates from another namespace only with a grant there. */ -}}
  {{- if and $secrets (ne $certNs $gwNs) -}}
    {{- $to := list -}}
    {{- range $secret, $_ := $secrets -}}{{- $to = append $to (dict "group" "" "kind" "Secret" "name" $secret) -}}{{- end -}}
    {{- $_ := set $gapi "referenceGrants" (append $gapi.referenceGrants (dict "name" (include "grpc-ingress.fit" (printf "%s-certificates" $names.fullname)) "namespace" $certNs "from" (list (dict "group" "gateway.networking.k8s.io" "kind" "Gateway" "namespace" $gwNs)) "to" $to)) -}}
  {{- end -}}
{{- end -}}
{{- /* Backends in other namespaces: a grant there, from this release's routes. */ -}}
{{- range $ns, $services := $grants -}}
  {{- $from := list -}}
  {{- range $routeKinds -}}{{- $from = append $from (dict "group" .group "kind" .kind "namespace" $releaseNs) -}}{{- end -}}
  {{- $to := list -}}
  {{- range $service, $_ := $services -}}{{- $to = append $to (dict "group" "" "kind" "Service" "name" $service) -}}{{- end -}}
  {{- $_ := set $gapi "referenceGrants" (append $gapi.referenceGrants (dict "name" (include "grpc-ingress.fit" (printf "%s-%s-backends" $names.fullname $releaseNs)) "namespace" $ns "from" $from "to" $to)) -}}
{{- end -}}
{{- $_ := set $model "errors" (concat $model.errors $errors) -}}
{{- end -}}
{{- end -}}
