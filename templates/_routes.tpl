{{/*
The route side of the model: one entry per route, keyed so that ranging over the map visits
them in match-precedence order, and the CORS policy gRPC-Web routes carry.
*/}}

{{/*
Fill model.routes and model.cors: include "grpc-ingress.model.routes" (list $ $model)
  model.routes: map "r<rank>-<index>" -> route. Ranks: 0 method-only routes, 1 service
        routes (with or without methods), 2 raw prefix/regex routes, 3 the catch-all.
        Ranging over the map (Go templates visit keys in sorted order) gives the order a
        router must try them in: more specific matches first, the user's order kept within
        a rank. The pass is linear and makes no list append per route.
  entry: route (the routes[] entry as given: name, services, methods, prefix, regex,
        timeout, streaming...), catchAll (no match: it takes every call), backends (list of
        {host, port, subset, subsetLabels, weight}; host as Istio must read it: name.ns
        written as name.ns.svc.<clusterDomain>), weighted (more than one backend:
        weights apply), retries (the route's own policy, else the chart default for its
        kind: {attempts, perTryTimeout, retryOn}; attempts 0 means retries off, and the
        other fields are then ignored because Helm merges the chart defaults' retryOn in).
  model.cors: the CORS policy every call route carries when gRPC-Web is on (empty map otherwise).
*/}}
{{- define "grpc-ingress.model.routes" -}}
{{- $root := index . 0 -}}
{{- $model := index . 1 -}}
{{- $values := $root.Values -}}
{{- $routes := dict -}}
{{- $unaryRetries := $values.retries.unary -}}
{{- $releaseNamespace := $root.Release.Namespace -}}
{{- $clusterDomain := $values.clusterDomain -}}
{{- $streamingRetries := $values.retries.streaming -}}
{{- range $index, $route := $values.routes -}}
  {{- /* Plain ifs rather than and/or: this runs once per route, and a template function
         call costs more than the work it does. */ -}}
  {{- $rank := 3 -}}
  {{- $catchAll := false -}}
  {{- if $route.prefix -}}{{- $rank = 2 -}}
  {{- else if $route.regex -}}{{- $rank = 2 -}}
  {{- else if $route.services -}}{{- $rank = 1 -}}
  {{- else if $route.methods -}}{{- $rank = 0 -}}
  {{- else -}}{{- $catchAll = true -}}
  {{- end -}}
  {{- $backends := $route.backends -}}
  {{- $weighted := false -}}
  {{- if $route.backend -}}{{- $backends = list $route.backend -}}
  {{- else if $backends -}}{{- $weighted = gt (len $backends) 1 -}}
  {{- end -}}
  {{- /* name.ns and name.ns.svc become the Service's FQDN (grpc-ingress.serviceFqdn); short
         names stay short: Istio resolves them in the VirtualService's namespace, the
         release namespace. A host with no dot costs one contains. */ -}}
  {{- $dotted := false -}}
  {{- range $backends -}}{{- if contains "." .host -}}{{- $dotted = true -}}{{- end -}}{{- end -}}
  {{- if $dotted -}}
    {{- $resolved := list -}}
    {{- range $backends -}}
      {{- $fqdn := include "grpc-ingress.serviceFqdn" (list .host $releaseNamespace $clusterDomain) -}}
      {{- if or (not (contains "." .host)) (eq $fqdn .host) -}}{{- $resolved = append $resolved . -}}
      {{- else -}}{{- $resolved = append $resolved (merge (dict "host" $fqdn) .) -}}
      {{- end -}}
    {{- end -}}
    {{- $backends = $resolved -}}
  {{- end -}}
  {{- $retries := $unaryRetries -}}
  {{- if $route.retries -}}{{- $retries = $route.retries -}}
  {{- else if $route.streaming -}}{{- $retries = $streamingRetries -}}
  {{- end -}}
  {{- $_ := set $routes (printf "r%d-%06d" $rank $index) (dict
    "route" $route "where" (printf "routes[%d]" $index) "catchAll" $catchAll "backends" $backends "weighted" $weighted "retries" $retries) -}}
{{- end -}}
{{- $_ := set $model "routes" $routes -}}
{{- include "grpc-ingress.model.routeHosts" (list $values.hosts $model) -}}
{{- include "grpc-ingress.model.cors" (list $values.grpcWeb $model) -}}
{{- end -}}

{{/*
Fill model.routeHosts, the hosts the routes are written for: include "grpc-ingress.model.routeHosts" (list .Values.hosts $model)
hosts without the ones another host already covers (api.example.com beside *.example.com,
*.a.example.com beside *.example.com, anything beside *). Istio's webhook refuses a
VirtualService whose hosts overlap ("duplicate hosts in virtual service":
pkg/config/validation/validation.go ValidateVirtualService, host.Name.Matches on every pair),
and the covering host already routes the covered one's calls: the gateway server of
api.example.com takes the routes of a *.example.com VirtualService (pickMatchingGatewayHosts
in pilot/pkg/networking/core/gateway.go). The gateway servers keep every host, so a host's
own certificate (tls.hosts) still applies. Exact duplicates are refused by the schema.
*/}}
{{- define "grpc-ingress.model.routeHosts" -}}
{{- $hosts := index . 0 -}}
{{- $kept := list -}}
{{- range $hosts -}}
  {{- $host := . -}}
  {{- $covered := false -}}
  {{- range $hosts -}}
    {{- /* A wildcard "*.x" covers what ends in ".x" (a longer name); "*" covers all. */ -}}
    {{- if and (ne . $host) (hasPrefix "*" .) (hasSuffix (trimPrefix "*" .) $host) -}}
      {{- $covered = true -}}
    {{- end -}}
  {{- end -}}
  {{- if not $covered -}}{{- $kept = append $kept $host -}}{{- end -}}
{{- end -}}
{{- $_ := set (index . 1) "routeHosts" $kept -}}
{{- end -}}

{{/*
Fill model.cors, the CORS policy for gRPC-Web ({} when gRPC-Web is off):
include "grpc-ingress.model.cors" (list .Values.grpcWeb $model)
It is attached to every call route: the browser's OPTIONS preflight carries no content-type:
application/grpc-web, so it only reaches a route that matches on the path alone, and that
route must answer it. Origins given as strings are exact matches; "*" without
allowAnyOrigin and an empty list are refused in _validate.tpl.
*/}}
{{- define "grpc-ingress.model.cors" -}}
{{- $web := index . 0 -}}
{{- $model := index . 1 -}}
{{- $policy := dict -}}
{{- if $web.enabled -}}
{{- $cors := $web.cors -}}
{{- $origins := list -}}
{{- range $cors.allowOrigins -}}
{{- $origins = append $origins (ternary (dict "exact" .) . (kindIs "string" .)) -}}
{{- end -}}
{{- $policy = dict
  "allowOrigins" $origins
  "allowMethods" (list "POST" "OPTIONS")
  "allowHeaders" (concat (list "content-type" "x-grpc-web" "x-user-agent" "grpc-timeout") $cors.allowHeaders | uniq)
  "exposeHeaders" (concat (list "grpc-status" "grpc-message" "grpc-status-details-bin") $cors.exposeHeaders | uniq)
  "maxAge" ($cors.maxAge | toString)
  "allowCredentials" $cors.allowCredentials -}}
{{- end -}}
{{- $_ := set $model "cors" $policy -}}
{{- end -}}

{{/*
Why a CORS origin match lets every web site call, or "": include "grpc-ingress.originOpenToAll" MATCH
(MATCH: an Istio StringMatch, {exact}, {prefix} or {regex}). Envoy's CORS filter allows every
origin as soon as a match accepts the literal "*" (CorsFilter::isOriginAllowed in envoy's
source/extensions/filters/http/cors/cors_filter.cc: allow_origin->match("*")), and a match that
accepts two unrelated sites' origins accepts them all for practical purposes: `.*`, `.+`,
`(.*)`, `https://.*`, {prefix: "https://"}. Envoy matches a regex against the whole origin
(safe_regex), hence the ^(?: )$ around it; a regex that does not compile matches nothing here
(sprig's regexMatch), and Istio's webhook refuses it anyway.
*/}}
{{- define "grpc-ingress.originOpenToAll" -}}
{{- $probes := list "*" "https://evil.example" "https://attacker.test:8443" -}}
{{- $accepts := dict -}}
{{- range $probe := $probes -}}
  {{- $ok := false -}}
  {{- if hasKey $ "exact" -}}{{- $ok = eq $.exact $probe -}}
  {{- else if hasKey $ "prefix" -}}{{- $ok = hasPrefix $.prefix $probe -}}
  {{- else if hasKey $ "regex" -}}{{- $ok = regexMatch (printf "^(?:%s)$" $.regex) $probe -}}
  {{- end -}}
  {{- if $ok -}}{{- $_ := set $accepts $probe true -}}{{- end -}}
{{- end -}}
{{- if hasKey $accepts "*" -}}
accepts "*", which Envoy's CORS filter reads as every origin
{{- else if and (hasKey $accepts "https://evil.example") (hasKey $accepts "https://attacker.test:8443") -}}
matches the origin of every web site (https://evil.example and https://attacker.test:8443 alike)
{{- end -}}
{{- end -}}

{{/*
What Istio's webhook refuses in a regex (a route's uri regex, a CORS origin regex), as the
end of a sentence, or "": include "grpc-ingress.regexProblem" REGEX
Istio compiles every StringMatch regex with Go's regexp, which is RE2 syntax, and refuses
more than 1,024 characters, its stand-in for Envoy's RE2 program size
(validateStringRegexp in istio pkg/config/validation/validation.go). Sprig's regexMatch is
false when its pattern does not compile, and "^|REGEX" matches "" whenever REGEX compiles
(through "^"), while the "^|" in front changes nothing in how REGEX itself parses.
*/}}
{{- define "grpc-ingress.regexProblem" -}}
{{- if gt (len .) 1024 -}}
is {{ len . }} characters long, and Istio refuses a regex over 1024 characters; shorten it (a prefix match, or one route per service)
{{- else if not (regexMatch (print "^|" .) "") -}}
is not valid RE2, the syntax Istio's webhook compiles it with (Go's regexp): RE2 has no lookarounds ((?=, (?!, (?<=), backreferences or possessive quantifiers, and every ( and [ needs its closing ) or ]; fix the expression
{{- end -}}
{{- end -}}

{{/*
The literal text that every path a route regex matches starts with, as JSON
{"prefix": TEXT, "literal": true when the regex is that text alone}:
include "grpc-ingress.regexLiteralPrefix" REGEX | fromJson
Envoy matches a route regex against the whole path (Istio writes it as safe_regex, a full
match), so a regex opening with literal text matches only paths that start with it. Escaped
punctuation (\.) is literal; the first metacharacter ends the text, an atom that ?, * or {
makes optional is dropped, and any | gives no prefix at all (an alternative can start
anywhere). Shorter than the truth at worst, never longer: the shadowing rules that use it
can miss a case but never refuse a route that can match.
*/}}
{{- define "grpc-ingress.regexLiteralPrefix" -}}
{{- $prefix := "" -}}
{{- $last := "" -}}
{{- $literal := true -}}
{{- if contains "|" . -}}
  {{- $literal = false -}}
{{- else -}}
  {{- range $token := regexFindAll "\\\\.|." (trimPrefix "^" .) -1 -}}
    {{- if hasPrefix "\\" $token -}}
      {{- /* \. is a literal dot; \d, \w, \Q... and a lone \ are not literal text */ -}}
      {{- if not (regexMatch "^\\\\[^0-9A-Za-z]$" $token) -}}{{- $literal = false -}}{{- break -}}{{- end -}}
      {{- $prefix = print $prefix $last -}}{{- $last = substr 1 2 $token -}}
    {{- else if contains $token ".+*?()[]{}^$" -}}
      {{- $literal = false -}}
      {{- if contains $token "?*{" -}}{{- $last = "" -}}{{- end -}}
      {{- break -}}
    {{- else -}}
      {{- $prefix = print $prefix $last -}}{{- $last = $token -}}
    {{- end -}}
  {{- end -}}
{{- end -}}
{{- toJson (dict "prefix" (print $prefix $last) "literal" $literal) -}}
{{- end -}}
