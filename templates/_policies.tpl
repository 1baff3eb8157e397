{{/*
Destination policies: what the chart asks of each backend host (DestinationRule settings and
subsets). Istio applies a DestinationRule to every client of its host mesh-wide, and with two
rules for one host the first one's trafficPolicy wins, so there is one policy per host.
*/}}

{{/*
Fill model.destinationPolicies: include "grpc-ingress.model.policies" (list $ $model)   (after names)
  map host -> {name, namespace, subsets, policy, owner}   (policy and owner only when a
  route gives the host settings)
  policy: merged settings for the host: the route's trafficPolicy over the chart default
          (key by key, maps field by field, loadBalancer whole), plus the streaming
          keepalives for streaming routes (keys h2Upgrade,
          maxRequestsPerConnection, http2MaxRequests, idleTimeout, connectTimeout,
          tcpKeepalive, http2KeepAlive, outlierDetection, loadBalancer); owner: key -> the
          route that set it. loadBalancer is always a map ({simple} or {consistentHash});
          outlierDetection always carries consecutive5xxErrors (0 unless given).
  subsets: map subset name -> pod labels.
  name: the resource name (<fullname>-<host with dots as dashes>), namespace: where Istio
        applies it to the gateway's traffic.
The pass-through routes (reflection, health; _passthrough.tpl) count as streaming routes
and come first, so a conflict is always reported at the user's route.
A host is listed when a route gives it settings or subset labels; a renderer prints a
resource only when policy or subsets hold something it can express. Rules that need this
merged view (two routes giving one host different settings or subset labels, a subset
nothing defines) are checked here, while merging, and reported with the others.
*/}}
{{- define "grpc-ingress.model.policies" -}}
{{- $root := index . 0 -}}
{{- $model := index . 1 -}}
{{- $values := $root.Values -}}
{{- $policies := dict -}}
{{- /* Subsets a backend names without giving their labels: "host/subset" -> route index.
       (A subset given with labels defines itself.) */ -}}
{{- $labelledElsewhere := dict -}}
{{- $anySubset := false -}}
{{- $chartPolicy := $values.trafficPolicy | default dict -}}
{{- /* A load balancer name is {simple: NAME} to Istio; one spelling lets routes compare. */ -}}
{{- with $chartPolicy.loadBalancer -}}{{- if kindIs "string" . -}}
  {{- $chartPolicy = merge (dict "loadBalancer" (dict "simple" .)) $chartPolicy -}}
{{- end -}}{{- end -}}
{{- $streamPolicy := dict -}}
{{- with $values.streaming.idleTimeout -}}{{- $_ := set $streamPolicy "idleTimeout" . -}}{{- end -}}
{{- with $values.streaming.tcpKeepalive -}}{{- $_ := set $streamPolicy "tcpKeepalive" . -}}{{- end -}}
{{- /* The loop is written for few template calls per backend: a call costs more than the
       work it does, and this runs once per backend of every route. */ -}}
{{- $passThrough := $model.passThrough.routes -}}
{{- range $position, $route := concat $passThrough $values.routes -}}
  {{- $index := sub $position (len $passThrough) -}}
  {{- $targets := $route.backends -}}
  {{- if $route.backend -}}{{- $targets = list $route.backend -}}{{- end -}}
  {{- range $targets -}}
    {{- if .subset -}}
      {{- $anySubset = true -}}
      {{- if .subsetLabels -}}{{- else -}}{{- $_ := set $labelledElsewhere (print .host "/" .subset) $index -}}{{- end -}}
    {{- end -}}
  {{- end -}}
  {{- /* The route's settings over the chart default, plus streaming keepalives. Key by
         key, so that a route's false or 0 wins over the chart default (sprig's merge would
         take the default: mergo counts false and 0 as unset), and null or {} means the
         default. A map (tcpKeepalive, outlierDetection, http2KeepAlive) is merged field by
         field the same way; a load balancer is replaced whole. */ -}}
  {{- $policy := $chartPolicy -}}
  {{- if $route.trafficPolicy -}}
    {{- $policy = deepCopy $chartPolicy -}}
    {{- range $key, $value := $route.trafficPolicy -}}
      {{- if eq $key "loadBalancer" -}}
        {{- /* One kind of load balancer: the route's replaces the default's whole ({simple}
               merged into {consistentHash} would be both, which Istio refuses). */ -}}
        {{- if $value -}}{{- $_ := set $policy $key (ternary (dict "simple" $value) $value (kindIs "string" $value)) -}}{{- end -}}
      {{- else if kindIs "map" $value -}}{{- if $value -}}
        {{- /* Field by field, the same way: outlierDetection's 0 counts must win too. */ -}}
        {{- $merged := deepCopy (index $policy $key | default dict) -}}
        {{- range $field, $setting := $value -}}{{- if not (kindIs "invalid" $setting) -}}{{- $_ := set $merged $field $setting -}}{{- end -}}{{- end -}}
        {{- $_ := set $policy $key $merged -}}
      {{- end -}}{{- else if not (kindIs "invalid" $value) -}}
        {{- $_ := set $policy $key $value -}}
      {{- end -}}
    {{- end -}}
  {{- end -}}
  {{- if $route.streaming -}}{{- if $streamPolicy -}}{{- $policy = merge (deepCopy $policy) $streamPolicy -}}{{- end -}}{{- end -}}
  {{- /* Routes that ask for nothing skip the rest. */ -}}
  {{- $wanted := $anySubset -}}
  {{- if $policy -}}{{- $wanted = true -}}{{- end -}}
  {{- if $wanted -}}
  {{- range $target := $targets -}}
    {{- $wanted = $target.subsetLabels -}}
    {{- if $policy -}}{{- $wanted = true -}}{{- end -}}
    {{- if $wanted -}}
    {{- $entry := get $policies $target.host -}}
    {{- if $entry -}}{{- else -}}
      {{- /* Istio applies a DestinationRule to the gateway's traffic when it lives in the
             service's own namespace, so an FQDN host (name.ns.svc[.cluster.local]) gets its
             rule in ns; short names resolve in the release namespace. */ -}}
      {{- $namespace := $root.Release.Namespace -}}
      {{- if contains ".svc" $target.host -}}
        {{- $parts := splitList "." (trimSuffix ".cluster.local" $target.host) -}}
        {{- if and (eq (len $parts) 3) (eq (last $parts) "svc") -}}{{- $namespace = index $parts 1 -}}{{- end -}}
      {{- end -}}
      {{- $entry = dict "namespace" $namespace "subsets" dict "key" (printf "routes[%d].%s" $index (ternary "backend.host" "backends" (not (empty $route.backend)))) -}}
      {{- $_ := set $policies $target.host $entry -}}
    {{- end -}}
    {{- if $policy -}}
      {{- if $entry.policy -}}{{- else -}}{{- $_ := set $entry "policy" dict -}}{{- $_ := set $entry "owner" dict -}}{{- end -}}
      {{- range $key, $value := $policy -}}
        {{- if hasKey $entry.policy $key -}}
          {{- $current := get $entry.policy $key -}}
          {{- if ne (toJson $current) (toJson $value) -}}
            {{- $_ := set $model "errors" (append $model.errors (printf "routes[%d].trafficPolicy.%s: %s for backend %s, but route %q already gives it %s; a DestinationRule is per host, so give both routes the same value" $index $key (toJson $value) $target.host (get $entry.owner $key) (toJson $current))) -}}
          {{- end -}}
        {{- else -}}
          {{- $_ := set $entry.policy $key $value -}}
          {{- $_ := set $entry.owner $key $route.name -}}
        {{- end -}}
      {{- end -}}
    {{- end -}}
    {{- if $target.subset -}}{{- if $target.subsetLabels -}}
      {{- if hasKey $entry.subsets $target.subset -}}
        {{- $labels := get $entry.subsets $target.subset -}}
        {{- if ne (toJson $labels) (toJson $target.subsetLabels) -}}
          {{- $_ := set $model "errors" (append $model.errors (printf "routes[%d].backends: subset %s of %s has subsetLabels %s here but %s in another route; use the same labels" $index $target.subset $target.host (toJson $target.subsetLabels) (toJson $labels))) -}}
        {{- end -}}
      {{- end -}}
      {{- if not (hasKey $entry.subsets $target.subset) -}}
        {{- $_ := set $model "errors" (concat $model.errors (include "grpc-ingress.keyPrefixProblems" (list (printf "routes[%d].backends: subset %s of %s: subsetLabels" $index $target.subset $target.host) $target.subsetLabels) | fromJsonArray)) -}}
      {{- end -}}
      {{- $_ := set $entry.subsets $target.subset $target.subsetLabels -}}
    {{- end -}}{{- end -}}
    {{- end -}}
  {{- end -}}
  {{- end -}}
{{- end -}}
{{- /* A subset nothing defines makes Istio answer 503 (no healthy upstream). */ -}}
{{- if not $values.externalSubsets -}}
  {{- range $ref, $index := $labelledElsewhere -}}
    {{- $parts := splitList "/" $ref -}}
    {{- $entry := get $policies (first $parts) -}}
    {{- if not (and $entry (hasKey $entry.subsets (last $parts))) -}}
      {{- $_ := set $model "errors" (append $model.errors (printf "routes[%d].backends: subset %s of %s is not defined; give it subsetLabels (the pod labels of that subset), or set externalSubsets: true when a DestinationRule outside this chart defines it" (int $index) (last $parts) (first $parts))) -}}
    {{- end -}}
  {{- end -}}
{{- end -}}
{{- /* One Service spelled two ways (svc and svc.<ns>.svc.cluster.local) would get two
       DestinationRules, and Istio keeps one trafficPolicy for the host (mergeDestinationRule
       in pilot/pkg/model/destination_rule.go): hosts are compared as the Service they name. */ -}}
{{- $spellings := dict -}}
{{- /* Only hosts that share a first label can name one Service: count them first, cheaply. */ -}}
{{- $names := dict -}}
{{- range $host, $_ := $policies -}}
  {{- $name := regexReplaceAll "[.].*" $host "" -}}
  {{- $_ := set $names $name (add1 (get $names $name | default 0)) -}}
{{- end -}}
{{- range $host, $entry := $policies -}}
  {{- if gt (get $names (regexReplaceAll "[.].*" $host "") | int) 1 -}}
  {{- $renders := $entry.subsets -}}
  {{- range $entry.policy -}}{{- if . -}}{{- $renders = true -}}{{- end -}}{{- end -}}
  {{- if $renders -}}
    {{- $fqdn := include "grpc-ingress.fqdn" (dict "host" $host "namespace" $root.Release.Namespace) -}}
    {{- with get $spellings $fqdn -}}
      {{- $_ := set $model "errors" (append $model.errors (printf "%s: %s and %s (%s) name the same Service, %s, and each would get a DestinationRule of its own, of which Istio keeps one; spell the host one way in every route" $entry.key $host .host .key $fqdn)) -}}
    {{- else -}}
      {{- $_ := set $spellings $fqdn (dict "host" $host "key" $entry.key) -}}
    {{- end -}}
  {{- end -}}
  {{- end -}}
{{- end -}}
{{- /* Names: dots become dashes, so a.b and a-b would share one; the later host (in sorted
       order) gets a hash of its own name. Only a name over 63 characters needs fit. */ -}}
{{- $slugs := dict -}}
{{- range $host, $entry := $policies -}}
  {{- /* Outlier detection without consecutive5xxErrors would still eject after Envoy's
         default 5 x 5xx (enforcing 100%), application errors such as INTERNAL included, so
         it is 0 (off) unless given, and only gateway errors eject (applyOutlierDetection in
         pilot/pkg/networking/core/cluster_traffic_policy.go copies what is set). */ -}}
  {{- with $entry.policy -}}{{- with .outlierDetection -}}
    {{- $_ := set $entry.policy "outlierDetection" (merge (deepCopy .) (dict "consecutive5xxErrors" 0)) -}}
  {{- end -}}{{- end -}}
  {{- $slug := $host | replace "." "-" -}}
  {{- if hasKey $slugs $slug -}}{{- $slug = printf "%s-%s" $slug (sha256sum $host | trunc 8) -}}{{- end -}}
  {{- $_ := set $slugs $slug true -}}
  {{- $name := printf "%s-%s" $model.names.fullname $slug -}}
  {{- if gt (len $name) 63 -}}{{- $name = include "grpc-ingress.fit" $name -}}{{- end -}}
  {{- $_ := set $entry "name" $name -}}
{{- end -}}
{{- $_ := set $model "destinationPolicies" $policies -}}
{{- end -}}
