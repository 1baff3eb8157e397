{{/*
Helpers for grpc-ingress. Every name goes through grpc-ingress.fit so it stays a
DNS-1123 label of at most 63 characters.
*/}}

{{/*
A name of at most 63 characters. A longer one keeps its first 54 characters and gets an
8-character hash of the whole name: plain truncation (as most charts do) makes two long
release names that share a prefix collide on the same resources.
*/}}
{{- define "grpc-ingress.fit" -}}
{{- if le (len .) 63 -}}
{{- trimSuffix "-" . -}}
{{- else -}}
{{- printf "%s-%s" (trunc 54 . | trimSuffix "-") (sha256sum . | trunc 8) -}}
{{- end -}}
{{- end -}}

{{- define "grpc-ingress.name" -}}
{{- include "grpc-ingress.fit" (default .Chart.Name .Values.nameOverride) -}}
{{- end -}}

{{/* Release-scoped name, memoised on the render context. fullnameOverride is used as given: the schema already holds it to a 63-character label. */}}
{{- define "grpc-ingress.fullname" -}}
{{- if not (hasKey . "grpcIngressFullname") -}}
{{- $_ := set . "grpcIngressFullname" (include "grpc-ingress.fullnameUncached" .) -}}
{{- end -}}
{{- .grpcIngressFullname -}}
{{- end -}}

{{- define "grpc-ingress.fullnameUncached" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- /* Only an exact match is shortened: "contains" (as many charts do) lets two aliased
       instances of an umbrella chart collide (release admin-grpc-ingress, alias admin). */ -}}
{{- if eq $name .Release.Name -}}
{{- include "grpc-ingress.fit" .Release.Name -}}
{{- else -}}
{{- include "grpc-ingress.fit" (printf "%s-%s" .Release.Name $name) -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* A name derived from the fullname: (dict "ctx" $ "suffix" "grpc-web") */}}
{{- define "grpc-ingress.childName" -}}
{{- include "grpc-ingress.fit" (printf "%s-%s" (include "grpc-ingress.fullname" .ctx) .suffix) -}}
{{- end -}}

{{- define "grpc-ingress.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/*
Standard labels plus commonLabels. Merged as a map, never concatenated as text: a
commonLabels key equal to a standard one would otherwise write a duplicate YAML key.
The standard labels win because selectors and tooling rely on them. Computed once per
render and kept on the render context: a large route set renders a thousand documents.
*/}}
{{- define "grpc-ingress.labels" -}}
{{- if not (hasKey . "grpcIngressLabels") -}}
{{- $std := dict
  "helm.sh/chart" (include "grpc-ingress.chart" .)
  "app.kubernetes.io/name" (include "grpc-ingress.name" .)
  "app.kubernetes.io/instance" .Release.Name
  "app.kubernetes.io/version" (.Chart.AppVersion | toString)
  "app.kubernetes.io/managed-by" .Release.Service
  "app.kubernetes.io/part-of" "grpc-ingress" -}}
{{- $_ := set . "grpcIngressLabels" (toYaml (merge $std (.Values.commonLabels | default dict))) -}}
{{- end -}}
{{- .grpcIngressLabels -}}
{{- end -}}

{{/*
metadata: block. (dict "ctx" $ "name" N "namespace" NS "annotations" extra-map)
*/}}
{{- define "grpc-ingress.metadata" -}}
name: {{ .name | quote }}
namespace: {{ .namespace | quote }}
labels:
  {{- include "grpc-ingress.labels" .ctx | nindent 2 }}
{{- if or .annotations .ctx.Values.commonAnnotations }}
annotations:
  {{- /* Annotation values are free text: quote writes each one as a double-quoted YAML
         scalar whose escapes YAML readers understand, where toYaml fails on control
         characters and returns "", which would silently drop every annotation. */}}
  {{- range $k, $v := merge (.annotations | default dict) (.ctx.Values.commonAnnotations | default dict) }}
  {{ $k | quote }}: {{ $v | quote }}
  {{- end }}
{{- end }}
{{- end -}}

{{/*
Labels of the ingress gateway pods. The default lives here, not in values.yaml: Helm merges
maps, so a default in values.yaml would be added to any selector a user sets, and the
Gateway would then select pods that carry both, usually none.
*/}}
{{- define "grpc-ingress.gatewaySelector" -}}
{{- toYaml (.Values.gateway.selector | default (dict "istio" "ingressgateway")) -}}
{{- end -}}

{{/* Namespace of the Gateway resource. */}}
{{- define "grpc-ingress.gatewayNamespace" -}}
{{- default .Release.Namespace .Values.gateway.namespace -}}
{{- end -}}

{{- define "grpc-ingress.gatewayName" -}}
{{- if .Values.gateway.name -}}
{{- .Values.gateway.name -}}
{{- else -}}
{{- include "grpc-ingress.fullname" . -}}
{{- end -}}
{{- end -}}

{{/* The Gateway the VirtualService binds to, as namespace/name. */}}
{{- define "grpc-ingress.gatewayRef" -}}
{{- if .Values.gateway.create -}}
{{- printf "%s/%s" (include "grpc-ingress.gatewayNamespace" .) (include "grpc-ingress.gatewayName" .) -}}
{{- else -}}
{{- if not .Values.gateway.ref -}}
{{- fail "gateway.ref: gateway.create is false, so set gateway.ref to the existing Gateway as namespace/name (for example istio-system/shared-gateway)" -}}
{{- end -}}
{{- .Values.gateway.ref -}}
{{- end -}}
{{- end -}}

{{/*
The TLS secret name. Empty credentialName is only allowed when this chart creates the
certificate (Secret or cert-manager), which then gets <fullname>-tls.
*/}}
{{- define "grpc-ingress.credentialName" -}}
{{- if .Values.tls.credentialName -}}
{{- .Values.tls.credentialName -}}
{{- else if or .Values.tls.secret.create .Values.tls.certManager.enabled -}}
{{- /* At most 56 characters, so that Istio's <credentialName>-cacert still fits in 63. */ -}}
{{- $n := printf "%s-tls" (include "grpc-ingress.fullname" .) -}}
{{- if le (len $n) 56 -}}{{- $n -}}{{- else -}}{{- printf "%s-%s" (trunc 47 $n | trimSuffix "-") (sha256sum $n | trunc 8) -}}{{- end -}}
{{- end -}}
{{- end -}}

{{/* Hosts served with the default tls.credentialName (JSON list): those no tls.hosts entry claims. */}}
{{- define "grpc-ingress.defaultTlsHosts" -}}
{{- $claimed := dict -}}
{{- range .Values.tls.hosts -}}
{{- range .hosts -}}{{- $_ := set $claimed . true -}}{{- end -}}
{{- end -}}
{{- $out := list -}}
{{- range .Values.hosts -}}
{{- if not (hasKey $claimed .) -}}{{- $out = append $out . -}}{{- end -}}
{{- end -}}
{{- toJson $out -}}
{{- end -}}

{{/* The :authority (and SNI) clients use for checks: the first host, a wildcard made concrete. */}}
{{- define "grpc-ingress.testAuthority" -}}
{{- $host := first .Values.hosts -}}
{{- ternary (printf "test%s" (trimPrefix "*" $host)) $host (hasPrefix "*." $host) -}}
{{- end -}}

{{/* Is the grpc_web EnvoyFilter rendered? "auto" means: when this chart owns the Gateway. */}}
{{- define "grpc-ingress.envoyFilterEnabled" -}}
{{- $w := .Values.grpcWeb -}}
{{- $mode := $w.envoyFilter.enabled | toString -}}
{{- if and $w.enabled .Values.tls.enabled (or (eq $mode "true") (and (eq $mode "auto") .Values.gateway.create)) -}}
true
{{- end -}}
{{- end -}}

{{/*
CORS policy for gRPC-Web. It is attached to every call route: the browser's OPTIONS
preflight carries no content-type: application/grpc-web, so it only reaches a route that
matches on the path alone, and that route must answer it.
*/}}
{{- define "grpc-ingress.corsPolicy" -}}
{{- $c := .Values.grpcWeb.cors -}}
{{- $origins := list -}}
{{- range $i, $o := $c.allowOrigins -}}
{{- if kindIs "string" $o -}}
{{- if and (eq $o "*") (not $c.allowAnyOrigin) -}}
{{- fail (printf "grpcWeb.cors.allowOrigins[%d]: \"*\" lets every web site call these services; set grpcWeb.cors.allowAnyOrigin: true if that is really intended, or list the origins" $i) -}}
{{- end -}}
{{- $origins = append $origins (dict "exact" $o) -}}
{{- else -}}
{{- $origins = append $origins $o -}}
{{- end -}}
{{- end -}}
{{- if not $origins -}}
{{- fail "grpcWeb.cors.allowOrigins: gRPC-Web is enabled but no origin may call it; list the web origins (for example https://app.example.com)" -}}
{{- end -}}
allowOrigins: {{ toJson $origins }}
allowMethods: ["POST", "OPTIONS"]
allowHeaders: {{ toJson (concat (list "content-type" "x-grpc-web" "x-user-agent" "grpc-timeout") $c.allowHeaders | uniq) }}
exposeHeaders: {{ toJson (concat (list "grpc-status" "grpc-message" "grpc-status-details-bin") $c.exposeHeaders | uniq) }}
maxAge: {{ $c.maxAge | quote }}
allowCredentials: {{ $c.allowCredentials }}
{{- end -}}

{{/*
Namespace of a DestinationRule for a backend host. Istio applies a DestinationRule to the
gateway's traffic when it lives in the service's own namespace, so an FQDN host
(name.ns.svc[.cluster.local]) gets its rule in ns; short names resolve in the release namespace.
*/}}
{{- define "grpc-ingress.hostNamespace" -}}
{{- $parts := splitList "." (trimSuffix ".cluster.local" .host) -}}
{{- if and (eq (len $parts) 3) (eq (last $parts) "svc") -}}
{{- index $parts 1 -}}
{{- else -}}
{{- .ns -}}
{{- end -}}
{{- end -}}

{{/*
The route model, computed once per render and kept on the chart's render context (Helm
hands every template of a chart the same context map), so the VirtualService and the
DestinationRules share one pass over routes. The pass is linear: no loop over routes
inside a loop over routes, no list append per route. Callers:
  {{ include "grpc-ingress.model" . }}{{ $model := .grpcIngressModel }}
  $model.http: map sortKey -> VirtualService http entry. Keys sort as "r<rank>-<index>", so
        ranging over the map (or toYaml of it) yields exact methods, then services, then
        raw prefix/regex, then the catch-all: more specific matches win, user order kept.
  $model.destinationRules: map host -> {namespace, policy, subsets}
*/}}
{{- define "grpc-ingress.model" -}}
{{- if not (hasKey . "grpcIngressModel") -}}
{{- $v := .Values -}}
{{- $names := dict -}}
{{- $svcOwner := dict -}}
{{- $methodOwner := dict -}}
{{- $http := dict -}}
{{- $drs := dict -}}
{{- $catchAll := "" -}}
{{- $mixed := list -}}
{{- $subsetRefs := dict -}}
{{- $cors := dict -}}
{{- if $v.grpcWeb.enabled -}}{{- $cors = include "grpc-ingress.corsPolicy" . | fromYaml -}}{{- end -}}
{{- $chartTP := $v.trafficPolicy | default dict -}}
{{- $streamTP := dict -}}
{{- with $v.streaming.idleTimeout -}}{{- $_ := set $streamTP "idleTimeout" . -}}{{- end -}}
{{- with $v.streaming.tcpKeepalive -}}{{- $_ := set $streamTP "tcpKeepalive" . -}}{{- end -}}
{{- range $i, $r := $v.routes -}}
  {{- if hasKey $names $r.name -}}
    {{- fail (printf "routes[%d].name: %q is already the name of routes[%d]; route names must be unique" $i $r.name (get $names $r.name)) -}}
  {{- end -}}
  {{- $_ := set $names $r.name $i -}}
  {{- $matches := list -}}
  {{- range $r.services -}}
    {{- if hasKey $svcOwner . -}}
      {{- fail (printf "routes[%d].services: %s is already served by route %q; a service belongs to one route (route single methods with methods:)" $i . (get $svcOwner .)) -}}
    {{- end -}}
    {{- $_ := set $svcOwner . $r.name -}}
    {{- /* The trailing slash keeps /a.Greeter/ from also catching /a.GreeterX/. */ -}}
    {{- $matches = append $matches (dict "uri" (dict "prefix" (print "/" . "/"))) -}}
  {{- end -}}
  {{- range $r.methods -}}
    {{- if hasKey $methodOwner . -}}
      {{- fail (printf "routes[%d].methods: %s is already routed by route %q; a method belongs to one route" $i . (get $methodOwner .)) -}}
    {{- end -}}
    {{- $_ := set $methodOwner . $r.name -}}
    {{- $matches = append $matches (dict "uri" (dict "exact" (print "/" .))) -}}
  {{- end -}}
  {{- $rank := 3 -}}
  {{- if or $r.prefix $r.regex -}}
    {{- if or $r.services $r.methods -}}
      {{- fail (printf "routes[%d]: prefix/regex cannot be combined with services/methods in one route; put the raw match in a route of its own" $i) -}}
    {{- end -}}
    {{- with $r.prefix -}}{{- $matches = append $matches (dict "uri" (dict "prefix" .)) -}}{{- end -}}
    {{- with $r.regex -}}{{- $matches = append $matches (dict "uri" (dict "regex" .)) -}}{{- end -}}
    {{- $rank = 2 -}}
  {{- else if $r.services -}}
    {{- $rank = 1 -}}
    {{- if $r.methods -}}{{- $mixed = append $mixed $i -}}{{- end -}}
  {{- else if $r.methods -}}
    {{- $rank = 0 -}}
  {{- else if $catchAll -}}
    {{- fail (printf "routes[%d]: route %q has no services, methods, prefix or regex, so it catches every call, but route %q already does; only one catch-all route can ever match" $i $r.name $catchAll) -}}
  {{- else -}}
    {{- $catchAll = $r.name -}}
  {{- end -}}

  {{- /* Destinations */ -}}
  {{- $targets := $r.backends -}}
  {{- if $r.backend -}}
    {{- if $r.backends -}}
      {{- fail (printf "routes[%d]: set either backend (one destination) or backends (a weighted split), not both" $i) -}}
    {{- end -}}
    {{- $targets = list $r.backend -}}
  {{- else if not $r.backends -}}
    {{- fail (printf "routes[%d].backend: route %q has no destination; set backend: {host, port} or backends: [{host, port, weight}]" $i $r.name) -}}
  {{- end -}}
  {{- $weighted := gt (len $targets) 1 -}}
  {{- $dests := list -}}
  {{- $sum := 0 -}}
  {{- range $t := $targets -}}
    {{- $d := dict "host" $t.host "port" (dict "number" (int $t.port)) -}}
    {{- if $t.subset -}}
      {{- $_ := set $d "subset" $t.subset -}}
      {{- $_ := set $subsetRefs (print $t.host "/" $t.subset) $i -}}
    {{- end -}}
    {{- if $weighted -}}
      {{- $w := int ($t.weight | default 0) -}}
      {{- $sum = add $sum $w -}}
      {{- $dests = append $dests (dict "destination" $d "weight" $w) -}}
    {{- else -}}
      {{- $dests = append $dests (dict "destination" $d) -}}
    {{- end -}}
  {{- end -}}
  {{- if and $weighted (ne (int $sum) 100) -}}
    {{- fail (printf "routes[%d].backends: the weights add up to %d; they must add up to 100 (percent of calls per backend)" $i (int $sum)) -}}
  {{- end -}}

  {{- $e := dict "name" $r.name "route" $dests -}}
  {{- if $matches -}}{{- $_ := set $e "match" $matches -}}{{- end -}}

  {{- /* Timeouts: a route timeout also ends streams, and Istio refuses 0s, so streams get none. */ -}}
  {{- if $r.timeout -}}
    {{- if $r.streaming -}}
      {{- fail (printf "routes[%d].timeout: route %q is streaming, and an Istio route timeout also ends every stream after %s (0s is refused); remove timeout, or set streaming: false for a unary route" $i $r.name $r.timeout) -}}
    {{- end -}}
    {{- $_ := set $e "timeout" $r.timeout -}}
  {{- end -}}

  {{- /* Retries: the route's own, else the chart default for its kind. */ -}}
  {{- $ret := $v.retries.unary -}}
  {{- $own := hasKey $r "retries" -}}
  {{- if $own -}}{{- $ret = $r.retries -}}{{- else if $r.streaming -}}{{- $ret = $v.retries.streaming -}}{{- end -}}
  {{- if $ret -}}
    {{- $attempts := int $ret.attempts -}}
    {{- if eq $attempts 0 -}}
      {{- /* Chart-wide defaults are merged by Helm, so attempts: 0 there arrives with the default
             retryOn; it still means "off". On a route, the user wrote both: say so. */ -}}
      {{- if and $own (or $ret.perTryTimeout $ret.retryOn) -}}
        {{- fail (printf "routes[%d].retries: attempts: 0 turns retries off and cannot be combined with perTryTimeout or retryOn; remove them, or set attempts >= 1" $i) -}}
      {{- end -}}
      {{- $_ := set $e "retries" (dict "attempts" 0) -}}
    {{- else -}}
      {{- $out := dict "attempts" $attempts -}}
      {{- with $ret.perTryTimeout -}}{{- $_ := set $out "perTryTimeout" . -}}{{- end -}}
      {{- with $ret.retryOn -}}{{- $_ := set $out "retryOn" . -}}{{- end -}}
      {{- $_ := set $e "retries" $out -}}
    {{- end -}}
  {{- end -}}
  {{- if $cors -}}{{- $_ := set $e "corsPolicy" $cors -}}{{- end -}}
  {{- $_ := set $http (printf "r%d-%06d" $rank $i) $e -}}

  {{- /* DestinationRule policy per backend host: route policy over the chart default, plus
         streaming keepalives. Skipped entirely for routes that ask for nothing. */ -}}
  {{- $tp := $chartTP -}}
  {{- if $r.trafficPolicy -}}{{- $tp = merge (deepCopy $r.trafficPolicy) $chartTP -}}{{- end -}}
  {{- if and $r.streaming $streamTP -}}{{- $tp = merge (deepCopy $tp) $streamTP -}}{{- end -}}
  {{- if or $tp $subsetRefs -}}
  {{- range $t := $targets -}}
    {{- if or $tp $t.subsetLabels -}}
    {{- $dr := get $drs $t.host -}}
    {{- if not $dr -}}
      {{- $dr = dict "namespace" (include "grpc-ingress.hostNamespace" (dict "host" $t.host "ns" $.Release.Namespace)) "policy" dict "subsets" dict "owner" dict -}}
      {{- $_ := set $drs $t.host $dr -}}
    {{- end -}}
    {{- range $k, $val := $tp -}}
      {{- if hasKey $dr.policy $k -}}
        {{- if ne (toJson (get $dr.policy $k)) (toJson $val) -}}
          {{- fail (printf "routes[%d].trafficPolicy.%s: backend %s already gets %s from route %q; a DestinationRule is per host, so give both routes the same value" $i $k $t.host (toJson (get $dr.policy $k)) (get $dr.owner $k)) -}}
        {{- end -}}
      {{- else -}}
        {{- $_ := set $dr.policy $k $val -}}
        {{- $_ := set $dr.owner $k $r.name -}}
      {{- end -}}
    {{- end -}}
    {{- if and $t.subset $t.subsetLabels -}}
      {{- $prev := get $dr.subsets $t.subset -}}
      {{- if and $prev (ne (toJson $prev) (toJson $t.subsetLabels)) -}}
        {{- fail (printf "routes[%d].backends: subset %s of %s has other subsetLabels in another route; use the same labels" $i $t.subset $t.host) -}}
      {{- end -}}
      {{- $_ := set $dr.subsets $t.subset $t.subsetLabels -}}
    {{- end -}}
    {{- end -}}
  {{- end -}}
  {{- end -}}
{{- end -}}
{{- /* Second pass, over mixed routes only: a method whose service another route serves would be shadowed, since both sit in the services rank. */ -}}
{{- range $i := $mixed -}}
  {{- $r := index $v.routes $i -}}
  {{- range $r.methods -}}
    {{- $svc := index (splitList "/" .) 0 -}}
    {{- $owner := get $svcOwner $svc -}}
    {{- if and $owner (ne $owner $r.name) -}}
      {{- fail (printf "routes[%d].methods: %s belongs to service %s, which route %q serves; move the method to a route without services (method-only routes are matched first)" $i . $svc $owner) -}}
    {{- end -}}
  {{- end -}}
{{- end -}}
{{- /* A subset nothing defines makes Istio answer 503 (no healthy upstream). */ -}}
{{- if not $v.externalSubsets -}}
  {{- range $ref, $i := $subsetRefs -}}
    {{- $parts := splitList "/" $ref -}}
    {{- $dr := get $drs (first $parts) -}}
    {{- if not (and $dr (hasKey $dr.subsets (last $parts))) -}}
      {{- fail (printf "routes[%d].backends: subset %s of %s is not defined; give it subsetLabels (the pod labels of that subset), or set externalSubsets: true when a DestinationRule outside this chart defines it" (int $i) (last $parts) (first $parts)) -}}
    {{- end -}}
  {{- end -}}
{{- end -}}
{{- $_ := set . "grpcIngressModel" (dict "http" $http "destinationRules" $drs) -}}
{{- end -}}
{{- end -}}

{{/* A duration the schema already accepted (whole h/m/s/ms parts) in milliseconds. */}}
{{- define "grpc-ingress.durationMs" -}}
{{- $ms := 0 -}}
{{- $unit := dict "h" 3600000 "m" 60000 "s" 1000 "ms" 1 -}}
{{- range regexFindAll "[0-9]+(ms|h|m|s)" . -1 -}}
{{- $n := regexFind "^[0-9]+" . -}}
{{- $ms = add $ms (mul (atoi $n) (get $unit (trimPrefix $n .))) -}}
{{- end -}}
{{- $ms -}}
{{- end -}}

{{/* A Kubernetes quantity (500m, 2, 64Mi, 1G) as a plain number, for comparing requests with limits. */}}
{{- define "grpc-ingress.quantity" -}}
{{- $q := toString . -}}
{{- $num := regexFind "^[0-9.]+" $q -}}
{{- $unit := dict "" 1.0 "m" 0.001 "k" 1e3 "M" 1e6 "G" 1e9 "T" 1e12 "Ki" 1024.0 "Mi" 1048576.0 "Gi" 1073741824.0 "Ti" 1099511627776.0 -}}
{{- mulf (float64 $num) (get $unit (trimPrefix $num $q) | default 1.0) -}}
{{- end -}}
