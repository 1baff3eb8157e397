{{/*
Destination policies: what the chart asks of each backend host (DestinationRule settings and
subsets), for the gateway's traffic only. Istio applies a DestinationRule to every client of its
host, and with two rules for one host in one namespace the first one's trafficPolicy wins
(mergeDestinationRule in pilot/pkg/model/destination_rule.go). So each rule lives in the gateway
pods' namespace with exportTo ["."] and an FQDN host:
- (*PushContext).destinationRule in pilot/pkg/model/push_context.go: a gateway proxy looks in
  its own namespace first (private rules of the root namespace, istio-system, for the classic
  gateway there) and stops at the first match, before the service's namespace: the chart's rule
  wins over a rule of the service's owner for the gateway, and only for the gateway;
- setDestinationRules: exportTo ["."] keeps the rule out of every other namespace's index, so no
  sidecar elsewhere sees it; the host is resolved against the rule's OWN namespace
  (ResolveShortnameToFQDN), so a short name would name a Service in the gateway's namespace.
*/}}

{{/*
Fill model.destinationPolicies: include "grpc-ingress.model.policies" (list $ $model)   (after names)
  map FQDN host -> {name, namespace, subsets, policy, owner}   (policy and owner only when a
  route gives the host settings)
  policy: merged settings for the host: the route's trafficPolicy over the chart default
          (key by key, maps field by field, loadBalancer whole), plus the streaming
          keepalives for streaming routes (keys h2Upgrade,
          maxRequestsPerConnection, http2MaxRequests, idleTimeout, connectTimeout,
          tcpKeepalive, http2KeepAlive, outlierDetection, loadBalancer); owner: key -> the
          route that set it. loadBalancer is always a map ({simple} or {consistentHash});
          outlierDetection always carries consecutive5xxErrors (0 unless given).
  subsets: map subset name -> pod labels.
  name: the resource name (<fullname>-<name>-<namespace> of the Service, or the host with
        dots as dashes), namespace: the gateway pods' namespace.
Hosts are keyed as Istio resolves them (grpc-ingress.serviceFqdn): `greeter` from release
namespace apps, greeter.apps and greeter.apps.svc.cluster.local are one host and one rule.
The pass-through routes (reflection, health; _passthrough.tpl) count as streaming routes
and come first, so a conflict is always reported at the user's route.
A host is listed when a route gives it settings or subset labels; a renderer prints a
resource only when policy or subsets hold something it can express. Rules that need this
merged view (two routes giving one host different settings or subset labels, a subset
nothing defines, a subset defined elsewhere that the chart's rule would hide) are checked
here, while merging, and reported with the others.
*/}}
{{- define "grpc-ingress.model.policies" -}}
{{- $root := index . 0 -}}
{{- $model := index . 1 -}}
{{- $values := $root.Values -}}
{{- $policies := dict -}}
{{- /* Subsets a backend names without giving their labels: "host/subset" -> route index.
       (A subset given with labels defines itself.) */ -}}
{{- $labelledElsewhere := dict -}}
{{- $releaseNamespace := $root.Release.Namespace -}}
{{- $clusterDomain := $values.clusterDomain -}}
{{- $namespace := $model.names.workloadNamespace -}}
{{- $anySubset := false -}}
{{- $chartPolicy := $values.trafficPolicy | default dict -}}
{{- /* A load balancer name is {simple: NAME} to Istio; one spelling lets routes compare. */ -}}
{{- with $chartPolicy.loadBalancer -}}{{- if kindIs "string" . -}}
  {{- $chartPolicy = merge (dict "loadBalancer" (dict "simple" .)) $chartPolicy -}}
{{- end -}}{{- end -}}
{{- $hostSuffix := printf ".%s.svc.%s" $releaseNamespace $clusterDomain -}}{{- /* a short name's FQDN is name + this */ -}}
{{- $streamPolicy := dict -}}
{{- with $values.streaming.idleTimeout -}}{{- $_ := set $streamPolicy "idleTimeout" . -}}{{- end -}}
{{- with $values.streaming.tcpKeepalive -}}{{- $_ := set $streamPolicy "tcpKeepalive" . -}}{{- end -}}
{{- /* The loop is written for few template calls per backend: a call costs more than the
       work it does, and this runs once per backend of every route. */ -}}
{{- $passThrough := $model.passThrough.routes -}}
{{- $offset := len $passThrough -}}
{{- range $position, $route := concat $passThrough $values.routes -}}
  {{- $index := $position -}}
  {{- if $offset -}}{{- $index = sub $position $offset -}}{{- end -}}
  {{- $targets := $route.backends -}}
  {{- if $route.backend -}}{{- $targets = list $route.backend -}}{{- end -}}
  {{- range $targets -}}
    {{- if .subset -}}
      {{- $anySubset = true -}}
      {{- if .subsetLabels -}}{{- else -}}
        {{- $host := print .host $hostSuffix -}}
        {{- if contains "." .host -}}{{- $host = include "grpc-ingress.serviceFqdn" (list .host $releaseNamespace $clusterDomain) -}}{{- end -}}
        {{- $_ := set $labelledElsewhere (print $host "/" .subset) $index -}}
      {{- end -}}
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
  {{- range $targetIndex, $target := $targets -}}
    {{- $wanted = $target.subsetLabels -}}
    {{- if $policy -}}{{- $wanted = true -}}{{- end -}}
    {{- if $wanted -}}
    {{- /* A short name costs one print; only a dotted one needs grpc-ingress.serviceFqdn. */ -}}
    {{- $host := print $target.host $hostSuffix -}}
    {{- if contains "." $target.host -}}{{- $host = include "grpc-ingress.serviceFqdn" (list $target.host $releaseNamespace $clusterDomain) -}}{{- end -}}
    {{- $entry := get $policies $host -}}
    {{- if $entry -}}{{- else -}}
      {{- $entry = dict "namespace" $namespace "subsets" dict -}}
      {{- $_ := set $policies $host $entry -}}
    {{- end -}}
    {{- if $policy -}}
      {{- if $entry.policy -}}{{- else -}}{{- $_ := set $entry "policy" dict -}}{{- $_ := set $entry "owner" dict -}}{{- end -}}
      {{- range $key, $value := $policy -}}
        {{- if hasKey $entry.policy $key -}}
          {{- $current := get $entry.policy $key -}}
          {{- if ne (toJson $current) (toJson $value) -}}
            {{- $_ := set $model "errors" (append $model.errors (printf "routes[%d].trafficPolicy.%s: %s for backend %s, but route %q already gives it %s; a DestinationRule is per host (%s), so give both routes the same value" $index $key (toJson $value) $target.host (get $entry.owner $key) (toJson $current) $host)) -}}
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
          {{- $_ := set $model "errors" (append $model.errors (printf "routes[%d].backends: subset %s of %s has subsetLabels %s here but %s in another route; use the same labels" $index $target.subset $host (toJson $target.subsetLabels) (toJson $labels))) -}}
        {{- end -}}
      {{- else -}}
        {{- /* keyProblems (and its path) only for keys not yet found fine: subsets share a few. */ -}}
        {{- $check := false -}}
        {{- range $key, $_ := $target.subsetLabels -}}{{- if hasKey $model.keyChecks $key -}}{{- if get $model.keyChecks $key -}}{{- $check = true -}}{{- end -}}{{- else -}}{{- $check = true -}}{{- end -}}{{- end -}}
        {{- if $check -}}
          {{- $_ := set $model "errors" (concat $model.errors (include "grpc-ingress.keyProblems" (list (printf "%s.subsetLabels (subset %s of %s)" (ternary (printf "routes[%d].backend" $index) (printf "routes[%d].backends[%d]" $index $targetIndex) (not (empty $route.backend))) $target.subset $target.host) $target.subsetLabels $model) | fromJsonArray)) -}}
        {{- end -}}
      {{- end -}}
      {{- $_ := set $entry.subsets $target.subset $target.subsetLabels -}}
    {{- end -}}{{- end -}}
    {{- end -}}
  {{- end -}}
  {{- end -}}
{{- end -}}
{{- /* A subset nothing defines makes Istio answer 503 (no healthy upstream). With
       externalSubsets, a rule elsewhere defines it; but when the chart renders a rule for that
       host too, the gateway reads the chart's (its own namespace first) and never the other. */ -}}
{{- range $ref, $index := $labelledElsewhere -}}
  {{- $parts := splitList "/" $ref -}}
  {{- $entry := get $policies (first $parts) -}}
  {{- if not (and $entry (hasKey $entry.subsets (last $parts))) -}}
    {{- if not $values.externalSubsets -}}
      {{- $_ := set $model "errors" (append $model.errors (printf "routes[%d].backends: subset %s of %s is not defined; give it subsetLabels (the pod labels of that subset), or set externalSubsets: true when a DestinationRule outside this chart defines it" (int $index) (last $parts) (first $parts))) -}}
    {{- else if $entry -}}
      {{- $rendered := $entry.subsets -}}
      {{- range $entry.policy -}}{{- if . -}}{{- $rendered = true -}}{{- end -}}{{- end -}}
      {{- if $rendered -}}
        {{- $_ := set $model "errors" (append $model.errors (printf "routes[%d].backends: subset %s of %s is defined outside this chart (externalSubsets), but the chart also renders a DestinationRule for that host (its trafficPolicy, streaming settings or other subsets), and the gateway reads only that one (Istio looks in the gateway's namespace first), so it would answer 503; give the subset its subsetLabels here, or drop this chart's settings for the host" (int $index) (last $parts) (first $parts))) -}}
      {{- end -}}
    {{- end -}}
  {{- end -}}
{{- end -}}
{{- /* Names: <fullname>-<service>-<namespace> for a Service's FQDN, else the host with dots
       as dashes; a.b and a-b would share one, so the later host (in sorted order) gets a hash
       of its own name. Only a name over 63 characters needs fit. */ -}}
{{- $slugs := dict -}}
{{- $suffix := printf ".svc.%s" $clusterDomain -}}
{{- range $host, $entry := $policies -}}
  {{- /* Outlier detection without consecutive5xxErrors would still eject after Envoy's
         default 5 x 5xx (enforcing 100%), application errors such as INTERNAL included, so
         it is 0 (off) unless given, and only gateway errors eject (applyOutlierDetection in
         pilot/pkg/networking/core/cluster_traffic_policy.go copies what is set). */ -}}
  {{- with $entry.policy -}}{{- with .outlierDetection -}}
    {{- $_ := set $entry.policy "outlierDetection" (merge (deepCopy .) (dict "consecutive5xxErrors" 0)) -}}
  {{- end -}}{{- end -}}
  {{- $slug := trimSuffix $suffix $host | replace "." "-" -}}
  {{- if hasKey $slugs $slug -}}{{- $slug = printf "%s-%s" $slug (sha256sum $host | trunc 8) -}}{{- end -}}
  {{- $_ := set $slugs $slug true -}}
  {{- $name := printf "%s-%s" $model.names.fullname $slug -}}
  {{- if gt (len $name) 63 -}}{{- $name = include "grpc-ingress.fit" $name -}}{{- end -}}
  {{- $_ := set $entry "name" $name -}}
{{- end -}}
{{- $_ := set $model "destinationPolicies" $policies -}}
{{- end -}}
