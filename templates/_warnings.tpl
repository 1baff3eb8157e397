{{/*
Choices that render and apply but have a known trap on a cluster: NOTES.txt prints each one
after the install. Each is "key: what happens; what to do". Refused mistakes are errors
(_validate.tpl); these are legal, sometimes intended, and worth a line.
*/}}

{{/*
Fill model.warnings: include "grpc-ingress.model.warnings" (list $ $model)   (last)
*/}}
{{- define "grpc-ingress.model.warnings" -}}
{{- $root := index . 0 -}}
{{- $model := index . 1 -}}
{{- $values := $root.Values -}}
{{- $warnings := list -}}
{{- $gw := $model.gateway -}}

{{- /* A method routed on its own is matched before its service's route (method-only routes
       rank first, _routes.tpl), so its calls never see the weights of that route. */ -}}
{{- $split := dict -}}
{{- range $key, $entry := $model.routes -}}{{- if $entry.weighted -}}{{- range $entry.route.services -}}
  {{- $_ := set $split . $entry -}}
{{- end -}}{{- end -}}{{- end -}}
{{- if $split -}}
  {{- /* Method-only routes; plain ifs, as this runs once per route. */ -}}
  {{- range $index, $route := $values.routes -}}{{- if $route.methods -}}{{- if $route.services -}}{{- else if $route.prefix -}}{{- else if $route.regex -}}{{- else -}}
    {{- $entry := get $model.routes (printf "r0-%06d" $index) -}}
    {{- range $method := $route.methods -}}{{- with get $split (dir $method) -}}
      {{- $same := eq (toJson $entry.backends) (toJson .backends) -}}
      {{- if not $same -}}
        {{- $weights := list -}}
        {{- range .backends -}}{{- $weights = append $weights (printf "%s%s %d%%" .host (ternary (printf "/%s" .subset) "" (not (empty .subset))) (int .weight)) -}}{{- end -}}
        {{- $warnings = append $warnings (printf "routes[%d].methods: %s%s is routed on its own (route %q), so its calls skip the canary split of route %q (%s) and all go to %s; give route %q the same backends and weights, or drop the split" $index $method (ternary " (streaming)" "" (not (empty $route.streaming))) $route.name .route.name (join ", " $weights) (include "grpc-ingress.backendList" $entry.backends) $route.name) -}}
      {{- end -}}
    {{- end -}}{{- end -}}
  {{- end -}}{{- end -}}{{- end -}}
{{- end -}}

{{- /* Plaintext servers share the HTTPS server's gateway: its pods and its (usually
       public) Service. */ -}}
{{- if $values.gateway.create -}}
  {{- range $listener := $model.listeners -}}
    {{- if has $listener.protocol (list "HTTP2" "GRPC-WEB") -}}
      {{- $warnings = append $warnings (printf "%s: the plaintext %s server on port %d is on the same gateway as the others (pods %s, Service %s), so every route is reachable unencrypted by anyone who reaches that Service; if it is public, keep plaintext for in-cluster clients (call the backend Service directly, or run a second, internal gateway and a release of this chart on it with gateway.install custom)" (trimSuffix ".port" $listener.key | printf "%s.enabled") $listener.protocol (int $listener.port) (include "grpc-ingress.selectorText" $gw.selector) ($gw.service | default "of gateway.install custom")) -}}
    {{- end -}}
  {{- end -}}
  {{- /* A port the stock Service lacks must have been added by hand: say which. */ -}}
  {{- if and (ne $gw.install "custom") $values.gateway.servicePorts -}}
    {{- range $listener := $model.listeners -}}{{- if not (has (toString $listener.port) $gw.stockPorts) -}}
      {{- $warnings = append $warnings (printf "%s: port %d is not a port of the stock %s Service (80 and 443 only); gateway.servicePorts says you added it: check with kubectl get svc %s -n %s, or clients reach nothing" $listener.key (int $listener.port) $gw.service $gw.service $gw.workloadNamespace) -}}
    {{- end -}}{{- end -}}
  {{- end -}}
{{- end -}}
{{- /* gRPC-Web without the chart's EnvoyFilter on a gateway the chart owns: Istio adds
       grpc_web only on a plaintext GRPC-WEB server (_listeners.tpl), which the Gateway API has
       not (_gatewayapi.tpl), so on HTTPS, and on every listener with api: gateway-api, only an
       EnvoyFilter of someone else's serves browsers. Legal (the owner may have one); said. */ -}}
{{- if and $values.gateway.create $values.grpcWeb.enabled (not $model.envoyFilter.wanted) -}}
  {{- if or $values.tls.enabled (eq $values.api "gateway-api") -}}
    {{- $warnings = append $warnings (printf "grpcWeb.envoyFilter.enabled: false, so no EnvoyFilter of this release adds Envoy's grpc_web filter to the %s listener (Istio adds it itself only on a plaintext GRPC-WEB server%s), and browsers' gRPC-Web calls fail there unless an EnvoyFilter of your own adds it; set it to auto" (ternary "HTTPS" "plaintext" $values.tls.enabled) (ternary ", which the Gateway API has not" "" (eq $values.api "gateway-api"))) -}}
  {{- end -}}
{{- end -}}
{{- if $values.reflection.enabled -}}
  {{- $warnings = append $warnings (printf "reflection.enabled: anyone who reaches the gateway can list every service and message type %s serves; turn it off where the API is not public" $values.reflection.backend.host) -}}
{{- end -}}
{{- if and $values.tls.certManager.enabled $values.tls.credentialName -}}
  {{- $warnings = append $warnings (printf "tls.credentialName: %s is named while cert-manager issues it; another release (or aliased instance) that names it too issues into the same Secret and they overwrite each other; leave it empty for %s" $values.tls.credentialName (include "grpc-ingress.fit" (list 56 (printf "%s-tls" $model.names.fullname)))) -}}
{{- end -}}
{{- $_ := set $model "warnings" $warnings -}}
{{- end -}}

{{/* Backends as NOTES and messages print them: include "grpc-ingress.backendList" BACKENDS ("cart:50051 90%, cart-canary:50051 10%") */}}
{{- define "grpc-ingress.backendList" -}}
{{- /* Printed straight out, not built with printf, append and join: NOTES lists every route's
       backends, and a template function call costs more than the text it makes. */ -}}
{{- $weighted := false -}}
{{- if . -}}{{- $weighted = gt (len .) 1 -}}{{- end -}}{{- /* a route refused for having none still gets here */ -}}
{{- range $i, $backend := . -}}
  {{- if $i }}, {{ end -}}
  {{- $backend.host }}:{{ int $backend.port -}}
  {{- with $backend.subset }} (subset {{ . }}){{ end -}}
  {{- if $weighted }} {{ int $backend.weight }}%{{ end -}}
{{- end -}}
{{- end -}}

{{/* A label selector as text: include "grpc-ingress.selectorText" MAP ("istio=ingressgateway") */}}
{{- define "grpc-ingress.selectorText" -}}
{{- $out := list -}}
{{- range $key, $value := . -}}{{- $out = append $out (printf "%s=%s" $key $value) -}}{{- end -}}
{{- join "," $out -}}
{{- end -}}
