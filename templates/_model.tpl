{{/*
THE MODEL: values -> one model -> thin renderers.

Every template starts with
  {{- include "grpc-ingress.model" . }}
  {{- $model := .grpcIngressModel }}
The first template Helm executes (Helm runs a chart's templates deepest path first, then in
reverse name order: sortTemplates in helm.sh/helm pkg/engine/engine.go; here
templates/tests/protos.yaml, then tests/health-check.yaml, virtualservice.yaml, ...) builds the
model once and keeps it on the render context, which Helm shares among a chart's templates;
the others read it. Building it checks every rule and, when any is broken, fails with all
of them, so nothing is rendered and one run shows every problem.

The model describes WHAT to serve, not how one API spells it. The Istio templates
(gateway.yaml, virtualservice.yaml, destinationrule.yaml, envoyfilter.yaml) turn it into
Istio resources; a Gateway API renderer (Gateway, HTTPRoute/GRPCRoute, BackendTLSPolicy...)
is a second set of templates reading the same fields. Add a feature by adding its values,
its rule in _validate.tpl, its fields here, then print them in each renderer.

  gateway            install, create (this chart renders the gateway), service, workloadNamespace,
                     selector (gateway pods), servicePorts (Service port -> the pod port a
                     server binds), portList, testAddress, clusterDomain        (_gateway.tpl)
  names              fullname, gateway, gatewayNamespace, gatewayRef ("namespace/name" the
                     routes bind to), credentialName (default TLS secret, <fullname>-tls unless named),
                     workloadNamespace (gateway pods: secrets, certificates, EnvoyFilter),
                     envoyFilter, envoyFilterNamespace, testPod, testAuthority,
                     releaseNamespace                                        (_names.tpl)
  tls                enabled, settings (mode, minProtocolVersion, maxProtocolVersion,
                     cipherSuites, subjectAltNames: shared by every HTTPS listener)
  listeners          list, in server order, of {name, key, port, bindPort, protocol, hosts,
                     tls, httpsRedirect}: protocol HTTPS (tls: {credentialName}), HTTP2 (h2c,
                     prior knowledge), HTTP (httpsRedirect: true, answers 301) or GRPC-WEB
                     (plaintext gRPC-Web; Istio-only). port is the Service port, bindPort the
                     pod port Istio binds for it, key the value that sets the port.
  ports              kind -> port for the listeners that exist: tls, h2c, redirect, grpcWeb
  defaultTlsHosts    hosts served with names.credentialName (no tls.hosts entry claims them)
  certificates       cert-manager Certificates to create: {secretName, hosts, source,
                     privateKey: {algorithm, size (0: none), rotationPolicy}}
  secrets            Secrets to create: {name, type, data (plain text; printers encode)}
  envoyFilter        gRPC-Web on TLS listeners: {enabled, port (the HTTPS server's bind port),
                     priority, snis (one per filter chain to patch)}     (_listeners.tpl)
  connection         client connection settings on this chart's chains: {enabled, name,
                     namespace, priority, chains [{port, sni}], hcm, listenerPorts,
                     listener}                                              (_connection.tpl)
  healthCheck        the helm test Pod: {enabled, reason (why not), args, clientSecret}
  passThrough        {routes}: the reflection and health routes, also in model.routes
  checks             {health, reflection, call, rpc, path, route, backends}: what a route
                     serves, what checks call (rpc: the method or "list", as grpcurl takes it)
                                                                           (_passthrough.tpl)
  routes             map "r<rank>-<index>" -> {route (the routes[] entry as given: name,
                     services, methods, prefix, regex, timeout, streaming...), where (the
                     key messages name: routes[i], or reflection/health), catchAll,
                     backends, weighted, retries (effective policy)}; range it for
                     match-precedence order                                  (_routes.tpl)
  routeHosts         hosts the routes are written for: hosts minus those another covers
                     (a VirtualService refuses overlapping hosts)             (_routes.tpl)
  cors               CORS policy every route carries when gRPC-Web is on ({} otherwise)
  destinationPolicies  map host -> {name, namespace, subsets, policy, owner}  (_policies.tpl)
  keyChecks          label/annotation key -> its problem ("" for none), each key checked
                     once per render                                       (_metadata.tpl)
  warnings           choices that apply but have a known trap, "key: what happens; what to
                     do", for NOTES.txt                                      (_warnings.tpl)
  errors             every violation, "key: problem; fix"; non-empty means the render fails
                     (_validate.tpl, _policies.tpl)

Maps the templates range over are Go maps: ranging visits keys in sorted order, so the
output does not depend on how values were written.

api: gateway-api (_gatewayapi.tpl; printers gatewayapi-*.yaml) reads the same model: three
steps re-point model.gateway and names at the pods Istio deploys for a Gateway API Gateway,
split HTTPS listeners per host, and add
  api                istio or gateway-api (which printers print)
  names.certificateNamespace  where the TLS secrets live (the pods' namespace; with
                     gateway-api gatewayApi.certificateNamespace, else the Gateway's)
  gatewayApi         {gateway, routes, hostnames, parentRefs, redirect, referenceGrants}
An HTTPS listener becomes a Gateway listener per host (certificateRefs: its credentialName),
HTTP2 and GRPC-WEB HTTP listeners, a redirect listener an HTTPRoute with a RequestRedirect;
envoyFilter, connection and destinationPolicies print as in the Istio mode. A route becomes
a GRPCRoute rule, or an HTTPRoute rule when it needs a timeout, cors or a raw prefix/regex
(on Istio 1.26 to 1.29: every route, once one is an HTTPRoute). Values only the Istio API can say
are refused there.

Performance: the first template pays for the model; a Go template function call costs more
than the work it does, so the per-route passes (routes, validate, policies, passThrough's
search for the route that serves each check, and the VirtualService, DestinationRule and
NOTES printers) use plain ifs, make no list append per route and call few functions.
scripts/bench measures it against a static chart; scripts/profile-templates says which
include the time goes to.
*/}}

{{/*
Build the model once per render and fail with every violation: include "grpc-ingress.model" $
then read it as $.grpcIngressModel.
*/}}
{{- define "grpc-ingress.model" -}}
{{- if not (hasKey . "grpcIngressModel") -}}
{{- include "grpc-ingress.restoreDefaults" (list .Values (include "grpc-ingress.defaults" . | fromJson)) -}}
{{- include "grpc-ingress.normaliseValues" .Values -}}
{{- $model := dict "errors" list "keyChecks" dict -}}
{{- include "grpc-ingress.model.gateway" (list . $model) -}}
{{- include "grpc-ingress.model.names" (list . $model) -}}
{{- include "grpc-ingress.model.gatewayApi.target" (list . $model) -}}
{{- include "grpc-ingress.model.listeners" (list . $model) -}}
{{- include "grpc-ingress.model.gatewayApi.listeners" (list . $model) -}}
{{- include "grpc-ingress.model.connection" (list . $model) -}}
{{- include "grpc-ingress.model.routes" (list . $model) -}}
{{- include "grpc-ingress.model.passThrough" (list . $model) -}}
{{- include "grpc-ingress.model.gatewayApi.routes" (list . $model) -}}
{{- include "grpc-ingress.validate" (list . $model) -}}
{{- include "grpc-ingress.model.policies" (list . $model) -}}
{{- with $model.errors -}}
{{- fail (include "grpc-ingress.errorReport" (list $ .)) -}}
{{- end -}}
{{- include "grpc-ingress.model.warnings" (list . $model) -}}
{{- $_ := set . "grpcIngressModel" $model -}}
{{- end -}}
{{- end -}}

{{/*
Put values.yaml's value back wherever a user's null removed it, so that null means "the
default" (the same render as {} for a map): include "grpc-ingress.restoreDefaults" (list .Values DEFAULTS)
Helm deletes a key set to null from the merged values (coalesceValues in helm.sh/helm
pkg/chartutil/coalesce.go), and templates cannot read values.yaml (_defaults.tpl carries
it, written by scripts/values-defaults). Only missing keys are filled: sprig's merge would
also overwrite false, 0 and "" (mergo counts them as empty). .Values is the map every
template of the chart reads, so all of them see the restored keys.
*/}}
{{- define "grpc-ingress.restoreDefaults" -}}
{{- $values := index . 0 -}}
{{- range $key, $default := index . 1 -}}
  {{- $value := index $values $key -}}
  {{- if kindIs "invalid" $value -}}
    {{- $_ := set $values $key $default -}}
  {{- else if kindIs "map" $default -}}{{- if kindIs "map" $value -}}
    {{- include "grpc-ingress.restoreDefaults" (list $value $default) -}}
  {{- end -}}{{- end -}}
{{- end -}}
{{- end -}}

{{/*
Write values the way the rest of the chart reads them, where a user's spelling is plainly
meant: include "grpc-ingress.normaliseValues" .Values
routes[].methods "/pkg.Service/Method" (the HTTP/2 path, as grpcurl and logs print it) becomes
"pkg.Service/Method". Like restoreDefaults it edits .Values, so every template sees one form.
*/}}
{{- define "grpc-ingress.normaliseValues" -}}
{{- /* Only a route that has such a method gets a new list: one hasPrefix per method. */ -}}
{{- range $route := .routes -}}{{- range $route.methods -}}{{- if hasPrefix "/" . -}}
  {{- $methods := list -}}
  {{- range $route.methods -}}{{- $methods = append $methods (trimPrefix "/" .) -}}{{- end -}}
  {{- $_ := set $route "methods" $methods -}}
  {{- break -}}
{{- end -}}{{- end -}}{{- end -}}
{{- end -}}
