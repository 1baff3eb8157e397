{{/*
Reflection and health pass-through, and what the checks call. Routes per service leave
gRPC server reflection (what `grpcurl list` and `describe` ask) and the health service
unrouted, so those calls get no route (istio/istio#49373); reflection.* and health.* give
each a route of its own to a backend the user names. The helm test Pod and NOTES then call
what a route actually serves: the health service, else reflection, else nothing.
*/}}

{{/*
Fill model.passThrough and model.checks, add the pass-through routes to model.routes and
the call to model.healthCheck: include "grpc-ingress.model.passThrough" (list $ $model)
(after grpc-ingress.model.routes)
  passThrough.routes  route entries as routes[] writes them ({name, services, streaming,
                      backend}, and switch: the key that adds it, reflection or health):
                      _policies.tpl gives their backends the chart-wide and
                      streaming policies like any streaming route's
  checks              {health, reflection}: whether a route serves
                      /grpc.health.v1.Health/Check and
                      /grpc.reflection.v1.ServerReflection/ServerReflectionInfo (a
                      pass-through, a user route's service, method, prefix or regex, or a
                      catch-all); call: "method" (tests.method), "health", "reflection" or
                      "" (nothing to call); path, route (its name) and backends of the call
  healthCheck.probes  one per listener: {name (container), kind grpc (args: grpcurl's) or
                      grpc-web (script: sh for the curl image), listener, port, authority,
                      describe}; skipped: listeners left unchecked, with why; protos: the
                      .proto files the Pod mounts; enabled is false, with the reason, when
                      nothing is routed
*/}}
{{- define "grpc-ingress.model.passThrough" -}}
{{- $root := index . 0 -}}
{{- $model := index . 1 -}}
{{- $values := $root.Values -}}
{{- $errors := list -}}
{{- /* Both reflection versions: grpcurl (and most tools) ask v1 and fall back to v1alpha,
       which older servers still serve alone. Health: Check (unary) and Watch (a server
       stream), so the route is a streaming one: no timeout, streaming retries. */ -}}
{{- $kinds := list
  (dict "key" "reflection" "name" "grpc-reflection" "services" (list "grpc.reflection.v1.ServerReflection" "grpc.reflection.v1alpha.ServerReflection"))
  (dict "key" "health" "name" "grpc-health" "services" (list "grpc.health.v1.Health")) -}}
{{- $routes := list -}}
{{- $claimed := dict -}}
{{- range $kind := $kinds -}}
  {{- $settings := get $values $kind.key -}}
  {{- if $settings.enabled -}}
    {{- if not $settings.backend.host -}}
      {{- $errors = append $errors (printf "%s.backend.host: %s.enabled is true but no backend is named; set %s.backend.host (and port) to the Service that serves %s" $kind.key $kind.key $kind.key (join " and " $kind.services)) -}}
    {{- end -}}
    {{- /* name.ns and name.ns.svc as the Service's FQDN, as for routes[] (_routes.tpl). */ -}}
    {{- $host := $settings.backend.host -}}
    {{- if contains "." $host -}}
      {{- with include "grpc-ingress.serviceHostProblem" (list (printf "%s.backend.host" $kind.key) $host $values.clusterDomain) -}}{{- $errors = append $errors . -}}{{- end -}}
      {{- $host = include "grpc-ingress.serviceFqdn" (list $host $root.Release.Namespace $values.clusterDomain) -}}
    {{- end -}}
    {{- $routes = append $routes (dict "name" $kind.name "services" $kind.services "streaming" true "backend" (dict "host" $host "port" (int $settings.backend.port)) "switch" $kind.key) -}}
    {{- range $kind.services -}}{{- $_ := set $claimed . (printf "%s.enabled" $kind.key) -}}{{- end -}}
    {{- $_ := set $claimed $kind.name (printf "%s.enabled" $kind.key) -}}
  {{- end -}}
{{- end -}}
{{- /* A user route for the same service would never see its calls (or take them from the
       pass-through): one route per service. Route names stay unique. */ -}}
{{- if $routes -}}
{{- range $index, $route := $values.routes -}}
  {{- with get $claimed $route.name -}}
    {{- $errors = append $errors (printf "routes[%d].name: %q is the name of the route %s adds; rename this route" $index $route.name .) -}}
  {{- end -}}
  {{- range $service := $route.services -}}
    {{- with get $claimed $service -}}
      {{- $errors = append $errors (printf "routes[%d].services: %s is routed by %s already; remove it from this route, or set %s false and route it here" $index $service . (trimSuffix ".enabled" .)) -}}
    {{- end -}}
  {{- end -}}
  {{- range $method := $route.methods -}}
    {{- with get $claimed (dir $method) -}}
      {{- $errors = append $errors (printf "routes[%d].methods: %s belongs to %s, which %s routes already; remove it from this route, or set %s false and route it here" $index $method (dir $method) . (trimSuffix ".enabled" .)) -}}
    {{- end -}}
  {{- end -}}
{{- end -}}
{{- end -}}

{{- /* Pass-through routes are service routes (rank 1 of model.routes), after the user's. */ -}}
{{- $next := len $values.routes -}}
{{- range $routes -}}
  {{- $_ := set $model.routes (printf "r1-%06d" $next) (dict "route" . "where" .switch "catchAll" false "backends" (list .backend) "weighted" false "retries" $values.retries.streaming) -}}
  {{- $next = add1 $next -}}
{{- end -}}

{{- /* Which route serves each call, as Envoy matches paths: prefix, exact, or a regex on the
       whole path. Ranging model.routes visits routes in match order, so the first route
       found is the one that answers; the pass stops once every call has its route. */ -}}
{{- $test := $values.tests -}}
{{- $paths := dict "health" "/grpc.health.v1.Health/Check" "reflection" "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo" -}}
{{- $method := trimPrefix "/" $test.method -}}
{{- with $method -}}{{- $_ := set $paths "method" (printf "/%s" .) -}}{{- end -}}
{{- $served := dict -}}
{{- /* Each call's service and method, worked out once: a service or method route is only
       looked at closely when it lists one of them (a hasKey per name, not per call). */ -}}
{{- $wanted := dict -}}
{{- $names := dict -}}
{{- range $call, $path := $paths -}}
  {{- $want := dict "path" $path "service" (trimPrefix "/" (dir $path)) "method" (trimPrefix "/" $path) -}}
  {{- $_ := set $wanted $call $want -}}
  {{- $_ := set $names $want.service true -}}
  {{- $_ := set $names $want.method true -}}
{{- end -}}
{{- $calls := len $paths -}}
{{- range $key, $entry := $model.routes -}}
  {{- $route := $entry.route -}}
  {{- $look := true -}}
  {{- if $route.prefix -}}{{- else if $route.regex -}}{{- else if or $route.services $route.methods -}}
    {{- $look = false -}}
    {{- range $route.services -}}{{- if hasKey $names . -}}{{- $look = true -}}{{- end -}}{{- end -}}
    {{- range $route.methods -}}{{- if hasKey $names . -}}{{- $look = true -}}{{- end -}}{{- end -}}
  {{- end -}}
  {{- if $look -}}
  {{- range $call, $want := $wanted -}}{{- if not (hasKey $served $call) -}}
    {{- $hit := true -}}
    {{- if $route.prefix -}}{{- $hit = hasPrefix $route.prefix $want.path -}}
    {{- else if $route.regex -}}{{- $hit = regexMatch (printf "^(?:%s)$" $route.regex) $want.path -}}
    {{- else if or $route.services $route.methods -}}
      {{- $hit = false -}}
      {{- if $route.services -}}{{- $hit = has $want.service $route.services -}}{{- end -}}
      {{- if not $hit -}}{{- if $route.methods -}}{{- $hit = has $want.method $route.methods -}}{{- end -}}{{- end -}}
    {{- end -}}
    {{- if $hit -}}{{- $_ := set $served $call $entry -}}{{- end -}}
  {{- end -}}{{- end -}}
  {{- if eq (len $served) $calls -}}{{- break -}}{{- end -}}
  {{- end -}}
{{- end -}}
{{- $checks := dict "health" (hasKey $served "health") "reflection" (hasKey $served "reflection") -}}
{{- $call := "" -}}
{{- if $method -}}
  {{- $call = "method" -}}
  {{- if not (hasKey $served "method") -}}
    {{- $errors = append $errors (printf "tests.method: %s is served by no route, so the helm test call would fail (UNIMPLEMENTED); route its service or method in routes[], or name a method a route serves" $test.method) -}}
  {{- end -}}
  {{- /* Helm's fromJson answers a map with an Error key when the text is no JSON object. */ -}}
  {{- if not (regexMatch "^\\s*\\{" $test.request) -}}
    {{- $errors = append $errors (printf "tests.request: %s is not a JSON object, and grpcurl -d takes the request message as one; write it as JSON, for example {\"id\": \"42\"} ({} for the empty message)" (include "grpc-ingress.shorten" $test.request | quote)) -}}
  {{- else if hasKey (fromJson $test.request) "Error" -}}
    {{- $errors = append $errors (printf "tests.request: %s is not valid JSON (%s); write the request message as a JSON object ({} for the empty message)" (include "grpc-ingress.shorten" $test.request | quote) (get (fromJson $test.request) "Error")) -}}
  {{- end -}}
  {{- if and (not $test.proto) (not $checks.reflection) -}}
    {{- $errors = append $errors (printf "tests.method: grpcurl needs the descriptor of %s, and no route serves server reflection to ask for it; paste the method's .proto file into tests.proto, or set reflection.enabled with reflection.backend" $method) -}}
  {{- end -}}
{{- else if $checks.health -}}{{- $call = "health" -}}
{{- else if $checks.reflection -}}{{- $call = "reflection" -}}
{{- end -}}
{{- $_ := set $checks "call" $call -}}
{{- /* rpc: what grpcurl is given to call, the method, or "list" (grpcurl's reflection verb). */ -}}
{{- with $call -}}{{- $_ := set $checks "rpc" (ternary "list" (trimPrefix "/" (get $paths .)) (eq . "reflection")) -}}{{- end -}}
{{- if hasKey $served $call -}}
  {{- $entry := get $served $call -}}
  {{- $_ := set $checks "path" (get $paths $call) -}}
  {{- $_ := set $checks "route" $entry.route.name -}}
  {{- $_ := set $checks "backends" (include "grpc-ingress.backendList" $entry.backends) -}}
{{- end -}}

{{- /* The helm test Pod: one probe (container) per listener the release opened, each calling
       what a route serves through the gateway Service with the listener's host, port and
       TLS. gRPC over HTTPS and h2c with grpcurl; gRPC-Web (the HTTPS listener's EnvoyFilter,
       or a plaintext GRPC-WEB server) with an HTTP/1.1 POST of application/grpc-web+proto
       from curl, since grpcurl does not speak gRPC-Web. Reflection is a bidi stream, which
       gRPC-Web cannot carry, so gRPC-Web is only checked with a unary call. grpcurl gets the
       health service's descriptor from health.proto (tests/protos.yaml): a server need not
       list grpc.health.v1 in reflection, and reflection may not be routed at all. Every probe
       sends its own description in the grpc-ingress-check header, which grpcurl -v prints
       before the outcome. The redirect listener serves no gRPC. */ -}}
{{- $check := $model.healthCheck -}}
{{- $probes := list -}}
{{- $skipped := list -}}
{{- if and $check.enabled $call -}}
  {{- $mutual := $check.clientSecret -}}
  {{- $request := "" -}}
  {{- $rpc := $checks.rpc -}}
  {{- $protoFlags := list -}}
  {{- if eq $call "health" -}}
    {{- with $test.healthService -}}{{- $request = toJson (dict "service" .) -}}{{- end -}}
    {{- $protoFlags = list "-import-path" "/protos" "-proto" "health.proto" -}}
  {{- else if eq $call "method" -}}
    {{- $request = $test.request | default "{}" -}}
    {{- if $test.proto -}}{{- $protoFlags = list "-import-path" "/protos" "-proto" "method.proto" -}}{{- end -}}
  {{- end -}}
  {{- /* The gRPC-Web request body: one uncompressed frame (flag 0, 4-byte length) holding the
         request message. HealthCheckRequest with a service name is field 1 (tag 0x0a), a
         length and the name; any other call sends the empty message. */ -}}
  {{- $frame := "\\000\\000\\000\\000\\000" -}}
  {{- if and (eq $call "health") $test.healthService -}}
    {{- $frame = printf "\\000\\000\\000\\000\\%03o\\012\\%03o%s" (add 2 (len $test.healthService)) (len $test.healthService) $test.healthService -}}
  {{- end -}}
  {{- range $listener := $model.listeners -}}
    {{- if eq $listener.protocol "HTTP" -}}{{- continue -}}{{- end -}}
    {{- $authority := include "grpc-ingress.authority" (first $listener.hosts) -}}
    {{- $port := int $listener.port -}}
    {{- $address := printf "%s:%d" $model.gateway.testAddress $port -}}
    {{- $tls := eq $listener.protocol "HTTPS" -}}
    {{- $describe := printf "listener %s (%s, %s %d, gateway pod port %d), host %s, route %s to %s, call %s" $listener.name $listener.protocol $listener.key $port (int $listener.bindPort) $authority $checks.route $checks.backends (get $paths $call) -}}
    {{- if ne $listener.protocol "GRPC-WEB" -}}
      {{- $args := list "-v" "-max-time" "10" "-H" (printf "grpc-ingress-check: %s" $describe) "-authority" $authority -}}
      {{- if $tls -}}
        {{- if $test.insecure -}}{{- $args = append $args "-insecure" -}}{{- end -}}
        {{- if $mutual -}}{{- $args = concat $args (list "-cert" "/tls/tls.crt" "-key" "/tls/tls.key") -}}{{- end -}}
      {{- else -}}
        {{- $args = append $args "-plaintext" -}}
      {{- end -}}
      {{- $args = concat $args $protoFlags -}}
      {{- with $request -}}{{- $args = concat $args (list "-d" .) -}}{{- end -}}
      {{- $args = concat $args (list $address $rpc) -}}
      {{- $probes = append $probes (dict "name" (printf "grpcurl-%s-%d" $listener.name $port) "kind" "grpc" "listener" $listener.name "port" $port "authority" $authority "describe" $describe "args" $args) -}}
    {{- end -}}
    {{- if or (eq $listener.protocol "GRPC-WEB") (and $tls $model.envoyFilter.enabled) -}}
      {{- if eq $call "reflection" -}}
        {{- $skipped = append $skipped (printf "gRPC-Web on %s %d: reflection is a bidi stream, which gRPC-Web cannot carry, and nothing else is routed to call (set health.enabled, or tests.method)" $listener.key $port) -}}
      {{- else -}}
        {{- $url := printf "%s://%s:%d%s" (ternary "https" "http" $tls) $authority $port (get $paths $call) -}}
        {{- $curl := list "curl -sS -i --max-time 10 --http1.1 -X POST" -}}
        {{- if $tls -}}
          {{- if $test.insecure -}}{{- $curl = append $curl "-k" -}}{{- end -}}
          {{- if $mutual -}}{{- $curl = append $curl "--cert /tls/tls.crt --key /tls/tls.key" -}}{{- end -}}
        {{- end -}}
        {{- $curl = append $curl (printf "--connect-to '%s:%d:%s'" $authority $port $address) -}}
        {{- $curl = append $curl "-H 'content-type: application/grpc-web+proto' -H 'x-grpc-web: 1' -H \"grpc-ingress-check: $CHECK\" --data-binary @-" -}}
        {{- $curl = append $curl (printf "'%s'" $url) -}}
        {{- $script := list
          "echo \"gRPC-Web check: $CHECK\""
          (printf "out=$({ printf '%s' | %s; echo \"curl exit $?\"; } | tr -c '[:print:]\\n' '.')" $frame (join " " $curl))
          "echo \"$out\""
          "status=$(echo \"$out\" | sed -n 's/.*[Gg]rpc-[Ss]tatus: *\\([0-9][0-9]*\\).*/\\1/p' | head -n 1)"
          "[ \"$status\" = 0 ] && { echo \"OK: grpc-status 0\"; exit 0; }"
          "echo \"FAILED: grpc-status ${status:-missing} (first line: $(echo \"$out\" | head -n 1)). $CHECK. A 404 or grpc-status 12 means no route or method for this path on this host; 14 or 503 the backend is unreachable; a curl error the gateway address or port.\"" 
          "exit 1" -}}
        {{- $probes = append $probes (dict "name" (ternary (printf "grpc-web-%s-%d" $listener.name $port) (printf "grpc-web-%d" $port) $tls) "kind" "grpc-web" "listener" $listener.name "port" $port "authority" $authority "describe" $describe "script" (join "\n" $script)) -}}
      {{- end -}}
    {{- end -}}
  {{- end -}}
{{- end -}}
{{- $_ := set $check "probes" $probes -}}
{{- $_ := set $check "skipped" $skipped -}}
{{- $_ := set $check "protos" (dict) -}}
{{- if eq $call "health" -}}{{- $_ := set $check.protos "health.proto" true -}}{{- end -}}
{{- if and (eq $call "method") $test.proto -}}{{- $_ := set $check.protos "method.proto" true -}}{{- end -}}
{{- if and $check.enabled (not $call) -}}
  {{- $_ := set $check "enabled" false -}}
  {{- $_ := set $check "reason" "no route serves grpc.health.v1.Health or server reflection, so there is nothing to call; set health.enabled with health.backend, or tests.method" -}}
{{- end -}}

{{- $_ := set $model "passThrough" (dict "routes" $routes) -}}
{{- $_ := set $model "checks" $checks -}}
{{- $_ := set $model "errors" (concat $model.errors $errors) -}}
{{- end -}}
