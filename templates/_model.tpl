{{/*
THE MODEL: values -> one model -> thin renderers.

Every template starts with
  {{- include "grpc-ingress.model" . }}
  {{- $model := .grpcIngressModel }}
The first template Helm executes (Helm runs a chart's templates deepest path first, then in
reverse name order: sortTemplates in helm.sh/helm pkg/engine/engine.go; here
templates/tests/health-check.yaml, then virtualservice.yaml, ...) builds the
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
                     routes bind to), credentialName (default TLS secret; "" if none),
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
  certificates       cert-manager Certificates to create: {secretName, hosts, source}
  secrets            Secrets to create: {name, type, data (plain text; printers encode)}
  envoyFilter        gRPC-Web on TLS listeners: {enabled, port (the HTTPS server's bind port),
                     priority, snis (one per filter chain to patch)}     (_listeners.tpl)
  healthCheck        the helm test Pod: {enabled, args, clientSecret}
  routes             map "r<rank>-<index>" -> {route (the routes[] entry as given: name,
                     services, methods, prefix, regex, timeout, streaming...), catchAll,
                     backends, weighted, retries (effective policy)}; range it for
                     match-precedence order                                  (_routes.tpl)
  cors               CORS policy every route carries when gRPC-Web is on ({} otherwise)
  destinationPolicies  map host -> {name, namespace, subsets, policy, owner}  (_policies.tpl)
  errors             every violation, "key: problem; fix"; non-empty means the render fails
                     (_validate.tpl, _policies.tpl)

Maps the templates range over are Go maps: ranging visits keys in sorted order, so the
output does not depend on how values were written.
*/}}

{{/*
Build the model once per render and fail with every violation: include "grpc-ingress.model" $
then read it as $.grpcIngressModel.
*/}}
{{- define "grpc-ingress.model" -}}
{{- if not (hasKey . "grpcIngressModel") -}}
{{- $model := dict "errors" list -}}
{{- include "grpc-ingress.model.gateway" (list . $model) -}}
{{- include "grpc-ingress.model.names" (list . $model) -}}
{{- include "grpc-ingress.model.listeners" (list . $model) -}}
{{- include "grpc-ingress.model.routes" (list . $model) -}}
{{- include "grpc-ingress.validate" (list . $model) -}}
{{- include "grpc-ingress.model.policies" (list . $model) -}}
{{- with $model.errors -}}
{{- fail (include "grpc-ingress.errorReport" (list $ .)) -}}
{{- end -}}
{{- $_ := set . "grpcIngressModel" $model -}}
{{- end -}}
{{- end -}}
