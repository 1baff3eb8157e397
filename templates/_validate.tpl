{{/*
Rules a JSON schema cannot say: cross-field rules, in the order of values.yaml. Each
violation becomes one message "key: what is wrong (with the value); what to do", and
grpc-ingress.model reports them all in one fail before anything is rendered. The schema has
already checked every single value, so the rules here can rely on types and formats.
Rules that need the merged per-host view of destination policies live where that view is
built, in _policies.tpl, and report into the same list.
*/}}

{{/*
Append the violations of the values to model.errors: include "grpc-ingress.validate" (list $ $model)
(after the names, listeners and routes of the model are built)
*/}}
{{- define "grpc-ingress.validate" -}}
{{- $root := index . 0 -}}
{{- $model := index . 1 -}}
{{- $values := $root.Values -}}
{{- $errors := list -}}
{{- $gateway := $values.gateway -}}
{{- $tls := $values.tls -}}

{{- /* gateway */ -}}
{{- if and (not $gateway.create) (not $gateway.ref) -}}
  {{- $errors = append $errors "gateway.ref: gateway.create is false, so set gateway.ref to the existing Gateway as namespace/name (for example istio-system/shared-gateway)" -}}
{{- end -}}

{{- /* tls */ -}}
{{- if and $tls.enabled $gateway.create $model.defaultTlsHosts (not $model.names.credentialName) -}}
  {{- $errors = append $errors (printf "tls.credentialName: TLS is enabled for %s but there is no certificate source (tls.credentialName is empty); name an existing kubernetes.io/tls secret in gateway.workloadNamespace (%s), or set tls.secret.create (with cert and key) or tls.certManager.enabled" (join ", " $model.defaultTlsHosts) $model.gateway.workloadNamespace) -}}
{{- end -}}
{{- if and $tls.enabled $gateway.create (has $tls.mode (list "MUTUAL" "OPTIONAL_MUTUAL")) (not (or $tls.secret.caCert $tls.externalCA)) -}}
  {{- $errors = append $errors (printf "tls.mode: %s verifies client certificates but no client CA is given; set tls.secret.caCert (with tls.secret.create), or tls.externalCA: true when ca.crt or a <credentialName>-cacert secret already exists" $tls.mode) -}}
{{- end -}}
{{- $versions := dict "TLSV1_2" 2 "TLSV1_3" 3 -}}
{{- if and $tls.maxProtocolVersion (gt (int (get $versions $tls.minProtocolVersion)) (int (get $versions $tls.maxProtocolVersion))) -}}
  {{- $errors = append $errors (printf "tls.maxProtocolVersion: %s is below tls.minProtocolVersion %s, and Envoy refuses that listener; raise it or leave it empty" $tls.maxProtocolVersion $tls.minProtocolVersion) -}}
{{- end -}}
{{- $hostSet := dict -}}
{{- range $values.hosts -}}{{- $_ := set $hostSet . true -}}{{- end -}}
{{- $certified := dict -}}
{{- range $index, $entry := $tls.hosts -}}
  {{- range $entry.hosts -}}
    {{- if not (hasKey $hostSet .) -}}
      {{- $errors = append $errors (printf "tls.hosts[%d].hosts: %s is not in hosts, so no route would serve it; add it to hosts" $index .) -}}
    {{- end -}}
    {{- if hasKey $certified . -}}
      {{- $errors = append $errors (printf "tls.hosts[%d].hosts: %s already has a certificate in tls.hosts[%d]; list each host in one entry" $index . (get $certified .)) -}}
    {{- end -}}
    {{- $_ := set $certified . $index -}}
  {{- end -}}
{{- end -}}
{{- if and $tls.secret.caCert (not $tls.secret.create) -}}
  {{- $errors = append $errors "tls.secret.caCert: is set, but only used with tls.secret.create: true; set that (with cert and key), or drop caCert" -}}
{{- end -}}
{{- if $tls.secret.create -}}
  {{- if not $tls.secret.cert -}}
    {{- $errors = append $errors "tls.secret.cert: tls.secret.create is true but the PEM certificate is empty; paste it, or set tls.secret.create: false and point tls.credentialName at an existing secret" -}}
  {{- end -}}
  {{- if not $tls.secret.key -}}
    {{- $errors = append $errors "tls.secret.key: tls.secret.create is true but the PEM private key is empty; paste it, or set tls.secret.create: false and point tls.credentialName at an existing secret" -}}
  {{- end -}}
{{- end -}}
{{- $certManager := $tls.certManager -}}
{{- if $certManager.enabled -}}
  {{- if not $certManager.issuerRef.name -}}
    {{- $errors = append $errors "tls.certManager.issuerRef.name: cert-manager is enabled but no issuer is named; set the Issuer or ClusterIssuer name (an Issuer must live in gateway.workloadNamespace)" -}}
  {{- end -}}
  {{- if $tls.secret.create -}}
    {{- $errors = append $errors "tls.certManager.enabled: tls.secret.create is also true, and both would own the same secret; pick one certificate source" -}}
  {{- end -}}
  {{- /* cert-manager's webhook refuses these; say so at template time. Its default duration is 90 days. */ -}}
  {{- $duration := 7776000000 -}}
  {{- with $certManager.duration -}}
    {{- $duration = include "grpc-ingress.durationMs" . | atoi -}}
    {{- if lt $duration 3600000 -}}
      {{- $errors = append $errors (printf "tls.certManager.duration: %s is shorter than cert-manager's minimum of 1h; use 1h or more (e.g. 2160h for 90 days)" .) -}}
    {{- end -}}
  {{- end -}}
  {{- with $certManager.renewBefore -}}
    {{- $renewBefore := include "grpc-ingress.durationMs" . | atoi -}}
    {{- if lt $renewBefore 300000 -}}
      {{- $errors = append $errors (printf "tls.certManager.renewBefore: %s is shorter than cert-manager's minimum of 5m; use 5m or more" .) -}}
    {{- end -}}
    {{- if ge $renewBefore $duration -}}
      {{- $errors = append $errors (printf "tls.certManager.renewBefore: %s is not shorter than the certificate's duration (%s); cert-manager would renew forever; make it shorter" . (default "90 days, cert-manager's default" $certManager.duration)) -}}
    {{- end -}}
  {{- end -}}
  {{- /* Two Certificates writing one secret would fight over it. */ -}}
  {{- $owners := dict -}}
  {{- if $model.defaultTlsHosts -}}{{- $_ := set $owners $model.names.credentialName "tls.credentialName" -}}{{- end -}}
  {{- range $index, $entry := $tls.hosts -}}
    {{- if hasKey $owners $entry.credentialName -}}
      {{- $errors = append $errors (printf "tls.hosts[%d].credentialName: %s is also the secret of %s, and cert-manager would issue two Certificates into it; give each entry its own secret" $index $entry.credentialName (get $owners $entry.credentialName)) -}}
    {{- end -}}
    {{- $_ := set $owners $entry.credentialName (printf "tls.hosts[%d]" $index) -}}
  {{- end -}}
{{- end -}}

{{- /* listeners */ -}}
{{- if not (or $tls.enabled $values.h2c.enabled $values.grpcWeb.enabled) -}}
  {{- $errors = append $errors "tls.enabled: no listener is enabled (tls.enabled, h2c.enabled and grpcWeb.enabled are all false); enable at least one" -}}
{{- end -}}
{{- if $gateway.create -}}
  {{- if and $tls.httpsRedirect (not $tls.enabled) -}}
    {{- $errors = append $errors "tls.httpsRedirect: redirecting to HTTPS needs the HTTPS server, and tls.enabled is false; set tls.enabled: true or remove tls.httpsRedirect" -}}
  {{- end -}}
  {{- /* Judged on bind ports (_gateway.tpl): a server on a port the gateway Service lacks is
         unreachable (istioctl analyze: IST0162), and servers of two kinds on one bind port
         share one listener where, on plaintext, the first server's protocol wins
         (addPlainTextServer in pilot/pkg/model/gateway.go). HTTPS servers of tls.hosts share
         tls.port by design: TLS tells them apart by SNI. */ -}}
  {{- $gw := $model.gateway -}}
  {{- $service := ternary (printf "the %s Service of gateway.install %s exposes %s" $gw.service $gw.install $gw.portList) (printf "gateway.servicePorts lists %s" $gw.portList) (and (ne $gw.install "custom") (not $gateway.servicePorts)) -}}
  {{- $byBind := dict -}}
  {{- range $listener := $model.listeners -}}
    {{- if $gw.servicePorts -}}{{- if not (hasKey $gw.servicePorts (toString $listener.port)) -}}{{- if not (hasKey $byBind (print "seen-" $listener.key)) -}}
      {{- $errors = append $errors (printf "%s: %d is not a port of the gateway Service, so no client can reach it (istioctl analyze: IST0162); %s; use one of those ports, or add the port to your gateway Service and list it in gateway.servicePorts" $listener.key $listener.port $service) -}}
    {{- end -}}{{- end -}}{{- end -}}
    {{- $_ := set $byBind (print "seen-" $listener.key) true -}}
    {{- $other := get $byBind (toString $listener.bindPort) -}}
    {{- if and $other (ne $other.key $listener.key) -}}
      {{- $how := ternary (printf "%d" $listener.port) (printf "%d (→%d)" $listener.port $listener.bindPort) (eq $listener.port $listener.bindPort) -}}
      {{- $errors = append $errors (printf "%s: port %s binds gateway pod port %d, which %s (port %d) already binds; servers on one bind port share one listener, where the first server's protocol wins, so move one of them to another port (%s)" $listener.key $how $listener.bindPort $other.key $other.port $service) -}}
    {{- else if not $other -}}
      {{- $_ := set $byBind (toString $listener.bindPort) $listener -}}
    {{- end -}}
  {{- end -}}
{{- end -}}
{{- /* The deprecated listenerPort may only restate the port model of a Gateway this chart renders. */ -}}
{{- with $values.grpcWeb.envoyFilter.listenerPort -}}{{- if and $gateway.create $model.envoyFilter.enabled -}}
  {{- $bind := include "grpc-ingress.bindPort" (list $model $tls.port) | atoi -}}
  {{- if ne (int .) $bind -}}
    {{- $errors = append $errors (printf "grpcWeb.envoyFilter.listenerPort: %d, but the HTTPS server on tls.port %d binds gateway pod port %d (gateway.install %s: %s), so the grpc_web patch would land nowhere; remove listenerPort (deprecated: the port model gives it), or set gateway.install / gateway.servicePorts to match your gateway Service" (int .) (int $tls.port) $bind $gateway.install $model.gateway.portList) -}}
  {{- end -}}
{{- end -}}{{- end -}}
{{- with $values.grpcWeb.envoyFilter.serverNames -}}{{- if $gateway.create -}}
  {{- $errors = append $errors "grpcWeb.envoyFilter.serverNames: is only for a shared gateway (gateway.create: false); the chart patches the HTTPS servers of its own Gateway by itself; remove it" -}}
{{- end -}}{{- end -}}

{{- /* gRPC-Web */ -}}
{{- $cors := $values.grpcWeb.cors -}}
{{- if $values.grpcWeb.enabled -}}
  {{- range $index, $origin := $cors.allowOrigins -}}
    {{- if kindIs "string" $origin -}}
      {{- if and (eq $origin "*") (not $cors.allowAnyOrigin) -}}
        {{- $errors = append $errors (printf "grpcWeb.cors.allowOrigins[%d]: \"*\" lets every web site call these services; set grpcWeb.cors.allowAnyOrigin: true if that is really intended, or list the origins" $index) -}}
      {{- end -}}
    {{- else if and (hasKey $origin "prefix") (not $origin.prefix) -}}
      {{- $errors = append $errors (printf "grpcWeb.cors.allowOrigins[%d]: {prefix: \"\"} matches every origin, and Istio refuses an empty match; to let every web site call, write \"*\" with grpcWeb.cors.allowAnyOrigin: true, or list the origins" $index) -}}
    {{- else if not $cors.allowAnyOrigin -}}
      {{- with include "grpc-ingress.originOpenToAll" $origin -}}
        {{- $errors = append $errors (printf "grpcWeb.cors.allowOrigins[%d]: %s %s, so it lets every web site call these services; set grpcWeb.cors.allowAnyOrigin: true if that is really intended, or list the origins (exact, or a regex anchored to your domain such as https://[a-z0-9-]+\\.example\\.com)" $index (toJson $origin) .) -}}
      {{- end -}}
    {{- end -}}
  {{- end -}}
  {{- if not $cors.allowOrigins -}}
    {{- $errors = append $errors "grpcWeb.cors.allowOrigins: gRPC-Web is enabled but the list is empty, so no origin may call it; list the web origins (for example https://app.example.com)" -}}
  {{- end -}}
{{- end -}}

{{- /* routes: one pass, plus one over the routes that mix services and methods. */ -}}
{{- $routeNames := dict -}}
{{- $serviceOwner := dict -}}
{{- $methodOwner := dict -}}
{{- $catchAll := "" -}}
{{- range $index, $route := $values.routes -}}
  {{- if hasKey $routeNames $route.name -}}
    {{- $errors = append $errors (printf "routes[%d].name: %q is already the name of routes[%d]; route names must be unique" $index $route.name (get $routeNames $route.name)) -}}
  {{- end -}}
  {{- $_ := set $routeNames $route.name $index -}}
  {{- range $route.services -}}
    {{- if hasKey $serviceOwner . -}}
      {{- $errors = append $errors (printf "routes[%d].services: %s is already served by route %q; a service belongs to one route (route single methods with methods:)" $index . (get $serviceOwner .)) -}}
    {{- end -}}
    {{- $_ := set $serviceOwner . $route.name -}}
  {{- end -}}
  {{- range $route.methods -}}
    {{- if hasKey $methodOwner . -}}
      {{- $errors = append $errors (printf "routes[%d].methods: %s is already routed by route %q; a method belongs to one route" $index . (get $methodOwner .)) -}}
    {{- end -}}
    {{- $_ := set $methodOwner . $route.name -}}
  {{- end -}}
  {{- /* Plain ifs rather than and/or from here on: this runs once per route, and a
         template function call costs more than the work it does. */ -}}
  {{- $raw := false -}}
  {{- if $route.prefix -}}{{- $raw = true -}}
  {{- else if $route.regex -}}{{- $raw = true -}}
  {{- else if $route.services -}}
  {{- else if $route.methods -}}
  {{- else if $catchAll -}}
    {{- $errors = append $errors (printf "routes[%d]: route %q has no services, methods, prefix or regex, so it catches every call, but route %q already does; only one catch-all route can ever match" $index $route.name $catchAll) -}}
  {{- else -}}
    {{- $catchAll = $route.name -}}
  {{- end -}}
  {{- if $raw -}}{{- if or $route.services $route.methods -}}
    {{- $errors = append $errors (printf "routes[%d]: route %q has a raw match (prefix/regex) and services/methods; prefix/regex cannot be combined with services/methods in one route; put the raw match in a route of its own" $index $route.name) -}}
  {{- end -}}{{- end -}}
  {{- /* name.ns and name.ns.svc name the Service name in namespace ns (grpc-ingress.serviceFqdn);
         a Service name is a DNS-1035 label, so it starts with a letter. */ -}}
  {{- $targets := $route.backends -}}
  {{- if $route.backend -}}{{- $targets = list $route.backend -}}{{- end -}}
  {{- range $position, $target := $targets -}}
    {{- if contains "." $target.host -}}
      {{- $labels := splitList "." $target.host -}}
      {{- if or (eq (len $labels) 2) (and (eq (len $labels) 3) (eq (last $labels) "svc")) -}}{{- if not (regexMatch "^[a-z]" $target.host) -}}
        {{- $key := printf "routes[%d].backends[%d].host" $index $position -}}
        {{- if $route.backend -}}{{- $key = printf "routes[%d].backend.host" $index -}}{{- end -}}
        {{- $errors = append $errors (printf "%s: %s reads as Service %s in namespace %s (Istio takes a dotted host literally, so the chart writes it %s.svc.%s), but a Service name starts with a letter; name the Service as <name>.<namespace>, or give the full host of a ServiceEntry" $key $target.host (first $labels) (index $labels 1) (join "." (list (first $labels) (index $labels 1))) $values.clusterDomain) -}}
      {{- end -}}{{- end -}}
    {{- end -}}
  {{- end -}}
  {{- if $route.backend -}}
    {{- if $route.backends -}}
      {{- $errors = append $errors (printf "routes[%d]: route %q sets both backend and backends; set either backend (one destination) or backends (a weighted split), not both" $index $route.name) -}}
    {{- end -}}
  {{- else if $route.backends -}}
    {{- if gt (len $route.backends) 1 -}}
      {{- /* add reads a missing weight as 0. */ -}}
      {{- $sum := 0 -}}
      {{- range $route.backends -}}{{- $sum = add $sum .weight -}}{{- end -}}
      {{- if ne $sum 100 -}}
        {{- $errors = append $errors (printf "routes[%d].backends: the weights add up to %d; they must add up to 100 (percent of calls per backend)" $index $sum) -}}
      {{- end -}}
    {{- end -}}
  {{- else -}}
    {{- $errors = append $errors (printf "routes[%d].backend: route %q has no destination; set backend: {host, port} or backends: [{host, port, weight}]" $index $route.name) -}}
  {{- end -}}
  {{- /* A route timeout also ends streams, and Istio refuses 0s, so streams get none. */ -}}
  {{- if $route.timeout -}}{{- if $route.streaming -}}
    {{- $errors = append $errors (printf "routes[%d].timeout: route %q is streaming, and an Istio route timeout also ends every stream after %s (0s is refused); remove timeout, or set streaming: false for a unary route" $index $route.name $route.timeout) -}}
  {{- end -}}{{- end -}}
  {{- /* Chart-wide retry defaults are merged by Helm, so attempts: 0 there arrives with the
         default retryOn and still means "off". On a route, the user wrote both: say so. */ -}}
  {{- with $route.retries -}}
    {{- if .attempts -}}{{- else if or .perTryTimeout .retryOn -}}
      {{- $errors = append $errors (printf "routes[%d].retries: attempts: 0 turns retries off and cannot be combined with perTryTimeout or retryOn; remove them, or set attempts >= 1" $index) -}}
    {{- end -}}
  {{- end -}}
{{- end -}}
{{- /* A method of a route that also has services, whose service another route serves,
       would be shadowed: both sit in the services rank, where the earlier route wins.
       (A second pass: the owner may come later. No list of such routes: appending to a
       list copies it, which makes a long route list quadratic.) */ -}}
{{- range $index, $route := $values.routes -}}
  {{- if $route.prefix -}}{{- else if $route.regex -}}{{- else if $route.services -}}
  {{- range $method := $route.methods -}}
    {{- with get $serviceOwner (dir $method) -}}{{- if ne . $route.name -}}
      {{- $errors = append $errors (printf "routes[%d].methods: %s belongs to service %s, which route %q serves; move the method to a route without services (method-only routes are matched first)" $index $method (dir $method) .) -}}
    {{- end -}}{{- end -}}
  {{- end -}}
  {{- end -}}
{{- end -}}

{{- /* backendServices */ -}}
{{- $serviceNames := dict -}}
{{- range $index, $service := $values.backendServices -}}
  {{- if hasKey $serviceNames $service.name -}}
    {{- $errors = append $errors (printf "backendServices[%d].name: %q is already the name of backendServices[%d]; Service names must be unique" $index $service.name (get $serviceNames $service.name)) -}}
  {{- end -}}
  {{- $_ := set $serviceNames $service.name $index -}}
{{- end -}}

{{- /* tests */ -}}
{{- if $values.tests.enabled -}}
  {{- $resources := $values.tests.resources -}}
  {{- range $name, $request := $resources.requests -}}
    {{- $limit := get ($resources.limits | default dict) $name -}}
    {{- if and $limit (gt (include "grpc-ingress.quantity" $request | float64) (include "grpc-ingress.quantity" $limit | float64)) -}}
      {{- $errors = append $errors (printf "tests.resources.requests.%s: %v is above its limit %v; the API server refuses such a Pod; lower the request or raise tests.resources.limits.%s" $name $request $limit $name) -}}
    {{- end -}}
  {{- end -}}
{{- end -}}
{{- $_ := set $model "errors" (concat $model.errors $errors) -}}
{{- end -}}

{{/*
The one message for every violation found: include "grpc-ingress.errorReport" (list $ ERRORS)
*/}}
{{- define "grpc-ingress.errorReport" -}}
{{- $errors := index . 1 -}}
{{- printf "%s: %d %s in the values (nothing was rendered):" (index . 0).Chart.Name (len $errors) (ternary "problem" "problems" (eq (len $errors) 1)) -}}
{{- range $number, $message := $errors }}
{{ add1 $number }}. {{ $message }}
{{- end -}}
{{- end -}}
