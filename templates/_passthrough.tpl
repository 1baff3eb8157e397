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
                      backend}): _policies.tpl gives their backends the chart-wide and
                      streaming policies like any streaming route's
  checks              {health, reflection}: whether a route serves
                      /grpc.health.v1.Health/Check and
                      /grpc.reflection.v1.ServerReflection/ServerReflectionInfo (a
                      pass-through, a user route's service, method, prefix or regex, or a
                      catch-all); call: "health", "reflection" or "" (nothing to call)
  healthCheck.args    grpcurl's arguments; healthCheck.enabled is false, with the reason,
                      when nothing is routed
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
    {{- $routes = append $routes (dict "name" $kind.name "services" $kind.services "streaming" true "backend" (dict "host" $host "port" (int $settings.backend.port))) -}}
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
  {{- $_ := set $model.routes (printf "r1-%06d" $next) (dict "route" . "catchAll" false "backends" (list .backend) "weighted" false "retries" $values.retries.streaming) -}}
  {{- $next = add1 $next -}}
{{- end -}}

{{- /* Which calls a route serves, as Envoy matches paths: prefix, exact, or a regex on the
       whole path. One pass over the routes for both calls, stopping at the first that
       serves both. */ -}}
{{- $health := $values.health.enabled -}}
{{- $reflection := $values.reflection.enabled -}}
{{- $healthPath := "/grpc.health.v1.Health/Check" -}}
{{- $reflectionPath := "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo" -}}
{{- range $values.routes -}}
  {{- if and $health $reflection -}}{{- break -}}{{- end -}}
  {{- if .prefix -}}
    {{- if hasPrefix .prefix $healthPath -}}{{- $health = true -}}{{- end -}}
    {{- if hasPrefix .prefix $reflectionPath -}}{{- $reflection = true -}}{{- end -}}
  {{- else if .regex -}}
    {{- $regex := printf "^(?:%s)$" .regex -}}
    {{- if regexMatch $regex $healthPath -}}{{- $health = true -}}{{- end -}}
    {{- if regexMatch $regex $reflectionPath -}}{{- $reflection = true -}}{{- end -}}
  {{- else if .services -}}
    {{- if has "grpc.health.v1.Health" .services -}}{{- $health = true -}}{{- end -}}
    {{- if has "grpc.reflection.v1.ServerReflection" .services -}}{{- $reflection = true -}}{{- end -}}
    {{- if .methods -}}
      {{- if has "grpc.health.v1.Health/Check" .methods -}}{{- $health = true -}}{{- end -}}
      {{- if has "grpc.reflection.v1.ServerReflection/ServerReflectionInfo" .methods -}}{{- $reflection = true -}}{{- end -}}
    {{- end -}}
  {{- else if .methods -}}
    {{- if has "grpc.health.v1.Health/Check" .methods -}}{{- $health = true -}}{{- end -}}
    {{- if has "grpc.reflection.v1.ServerReflection/ServerReflectionInfo" .methods -}}{{- $reflection = true -}}{{- end -}}
  {{- else -}}
    {{- /* The catch-all serves every call. */ -}}
    {{- $health = true -}}{{- $reflection = true -}}
  {{- end -}}
{{- end -}}
{{- $checks := dict "health" $health "reflection" $reflection -}}
{{- $call := "" -}}
{{- if $checks.health -}}{{- $call = "health" -}}{{- else if $checks.reflection -}}{{- $call = "reflection" -}}{{- end -}}
{{- $_ := set $checks "call" $call -}}

{{- /* The helm test Pod: the health check (with its service name, if any), else `list`
       through reflection, else no Pod. */ -}}
{{- $check := $model.healthCheck -}}
{{- $args := $check.flags -}}
{{- if eq $call "health" -}}
  {{- with $values.tests.healthService -}}{{- $args = concat $args (list "-d" (toJson (dict "service" .))) -}}{{- end -}}
  {{- $args = concat $args (list $check.address "grpc.health.v1.Health/Check") -}}
{{- else if eq $call "reflection" -}}
  {{- $args = concat $args (list $check.address "list") -}}
{{- else if $check.enabled -}}
  {{- $_ := set $check "enabled" false -}}
  {{- $_ := set $check "reason" "no route serves grpc.health.v1.Health or server reflection, so there is nothing to call; set health.enabled with health.backend" -}}
{{- end -}}
{{- $_ := set $check "args" $args -}}

{{- $_ := set $model "passThrough" (dict "routes" $routes) -}}
{{- $_ := set $model "checks" $checks -}}
{{- $_ := set $model "errors" (concat $model.errors $errors) -}}
{{- end -}}
