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

{{- /* metadata: label and annotation keys, and the annotations' total size */ -}}
{{- $errors = concat $errors (include "grpc-ingress.keyProblems" (list "commonLabels" $values.commonLabels $model) | fromJsonArray) -}}
{{- $errors = concat $errors (include "grpc-ingress.keyProblems" (list "commonAnnotations" $values.commonAnnotations $model) | fromJsonArray) -}}
{{- $errors = concat $errors (include "grpc-ingress.keyProblems" (list "gateway.selector" $values.gateway.selector $model) | fromJsonArray) -}}
{{- range $index, $service := $values.backendServices -}}
  {{- $errors = concat $errors (include "grpc-ingress.keyProblems" (list (printf "backendServices[%d].selector" $index) $service.selector $model) | fromJsonArray) -}}
{{- end -}}
{{- /* The API server caps an object's annotations at 256 KiB, keys and values counted
       (ValidateAnnotationsSize in k8s.io/apimachinery pkg/api/validation/objectmeta.go);
       the helm test Pod carries three annotations more (its two hook annotations and
       sidecar.istio.io/inject; the protos ConfigMap's hook annotations are fewer bytes). */ -}}
{{- $annotationBytes := 0 -}}
{{- range $key, $value := merge (dict "helm.sh/hook" "test" "helm.sh/hook-delete-policy" "before-hook-creation,hook-succeeded" "sidecar.istio.io/inject" "false") ($values.commonAnnotations | default dict) -}}
  {{- $annotationBytes = add $annotationBytes (len $key) (len (toString $value)) -}}
{{- end -}}
{{- if gt $annotationBytes 262144 -}}
  {{- $errors = append $errors (printf "commonAnnotations: the annotations of each resource add up to %d bytes (keys and values, with the helm test hooks), over the 262144 (256 KiB) the API server takes per object; keep large text out of annotations (a ConfigMap, or a link to it)" $annotationBytes) -}}
{{- end -}}

{{- /* hosts: the form is checked here rather than by a schema pattern, so that the message
       says what is wrong and what to write, the same on Helm 3 and Helm 4. */ -}}
{{- range $index, $host := $values.hosts -}}
  {{- with include "grpc-ingress.hostProblem" (list (printf "hosts[%d]" $index) $host) -}}{{- $errors = append $errors . -}}{{- end -}}
{{- end -}}
{{- range $index, $entry := $tls.hosts -}}{{- range $position, $host := $entry.hosts -}}
  {{- with include "grpc-ingress.hostProblem" (list (printf "tls.hosts[%d].hosts[%d]" $index $position) $host) -}}{{- $errors = append $errors . -}}{{- end -}}
{{- end -}}{{- end -}}
{{- range $index, $origin := $values.grpcWeb.cors.allowOrigins -}}{{- if kindIs "string" $origin -}}
  {{- with include "grpc-ingress.originProblem" (list (printf "grpcWeb.cors.allowOrigins[%d]" $index) $origin) -}}{{- $errors = append $errors . -}}{{- end -}}
{{- end -}}{{- end -}}

{{- /* gateway */ -}}
{{- if and (not $gateway.create) (not $gateway.ref) (not (and (eq $values.api "gateway-api") $values.gatewayApi.parentRefs)) -}}
  {{- $errors = append $errors "gateway.ref: gateway.create is false, so set gateway.ref to the existing Gateway as namespace/name (for example istio-system/shared-gateway)" -}}
{{- end -}}

{{- /* tls */ -}}
{{- if and $tls.enabled $gateway.create (has $tls.mode (list "MUTUAL" "OPTIONAL_MUTUAL")) (not (or $tls.secret.caCert $tls.externalCA)) -}}
  {{- $errors = append $errors (printf "tls.mode: %s verifies client certificates but no client CA is given; set tls.secret.caCert (the chart writes it as <credentialName>-cacert for every HTTPS server), or tls.externalCA: true when ca.crt or a <credentialName>-cacert secret already exists" $tls.mode) -}}
{{- end -}}
{{- /* Client CA and SANs only act in MUTUAL and OPTIONAL_MUTUAL: Istio's gateway asks for a
       client certificate and validates it (with the <credentialName>-cacert secret of each
       server, and the SANs) only then (BuildListenerTLSContext in
       pilot/pkg/networking/core/listener.go, ApplyCredentialSDSToServerCommonTLSContext in
       pilot/pkg/security/model/authentication.go). */ -}}
{{- $mutual := has $tls.mode (list "MUTUAL" "OPTIONAL_MUTUAL") -}}
{{- if $tls.secret.caCert -}}
  {{- if not (and $tls.enabled $mutual) -}}
    {{- $errors = append $errors (printf "tls.secret.caCert: a client CA only acts when clients must present certificates, and %s; set tls.mode: MUTUAL (or OPTIONAL_MUTUAL), or remove caCert" (ternary (printf "tls.mode is %s" $tls.mode) "tls.enabled is false" $tls.enabled)) -}}
  {{- else if $tls.externalCA -}}
    {{- $errors = append $errors "tls.externalCA: true says the client CA exists outside this chart, but tls.secret.caCert gives one for the chart to write; keep one of them" -}}
  {{- end -}}
{{- end -}}
{{- if and $tls.enabled $tls.subjectAltNames (not $mutual) -}}
  {{- $errors = append $errors (printf "tls.subjectAltNames: %s are matched against client certificates, which tls.mode %s never asks for; set tls.mode: MUTUAL (or OPTIONAL_MUTUAL) with a client CA, or remove subjectAltNames" (toJson $tls.subjectAltNames) $tls.mode) -}}
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
{{- if $tls.secret.create -}}
  {{- if not $tls.secret.cert -}}
    {{- $errors = append $errors "tls.secret.cert: tls.secret.create is true but the PEM certificate is empty; paste it, or set tls.secret.create: false and point tls.credentialName at an existing secret" -}}
  {{- end -}}
  {{- if not $tls.secret.key -}}
    {{- $errors = append $errors "tls.secret.key: tls.secret.create is true but the PEM private key is empty; paste it, or set tls.secret.create: false and point tls.credentialName at an existing secret" -}}
  {{- end -}}
{{- else -}}
  {{- range $field := list "cert" "key" -}}{{- if index $tls.secret $field -}}
    {{- $errors = append $errors (printf "tls.secret.%s: is set, but tls.secret.create is false, so the chart would drop it and Istio would read the secret %s as it is; set tls.secret.create: true to have the chart write the secret, or remove tls.secret.cert and tls.secret.key" $field ($model.names.credentialName | default "tls.credentialName names")) -}}
  {{- end -}}{{- end -}}
{{- end -}}
{{- /* PEM the gateway cannot load. istiod hands a credential secret to the gateway as it is
       (SecretGen.generate in pilot/pkg/xds/sds.go only counts a bad certificate in a metric),
       and Envoy then refuses it: the listener serves no TLS. */ -}}
{{- $pem := dict -}}
{{- if $tls.secret.create -}}{{- $_ := set $pem "cert" "CERTIFICATE" -}}{{- $_ := set $pem "key" "PRIVATE KEY" -}}{{- end -}}
{{- if $tls.secret.caCert -}}{{- $_ := set $pem "caCert" "CERTIFICATE" -}}{{- end -}}
{{- range $field, $kind := $pem -}}
  {{- with index $tls.secret $field -}}{{- with include "grpc-ingress.pemProblem" (list . $kind) -}}
    {{- $errors = append $errors (printf "tls.secret.%s: %s" $field .) -}}
  {{- end -}}{{- end -}}
{{- end -}}
{{- $certManager := $tls.certManager -}}
{{- if $certManager.enabled -}}
  {{- if not $certManager.issuerRef.name -}}
    {{- $errors = append $errors "tls.certManager.issuerRef.name: cert-manager is enabled but no issuer is named; set the Issuer or ClusterIssuer name (an Issuer must live in gateway.workloadNamespace)" -}}
  {{- end -}}
  {{- if $tls.secret.create -}}
    {{- $errors = append $errors "tls.certManager.enabled: tls.secret.create is also true, and both would own the same secret; pick one certificate source" -}}
  {{- end -}}
  {{- /* Key sizes cert-manager's webhook takes (ValidateCertificateSpec in cert-manager's
         internal/apis/certmanager/validation/certificate.go: RSA pki.MinRSAKeySize 2048 to
         pki.MaxRSAKeySize 8192, ECDSA 256, 384 or 521; Ed25519 ignores size). */ -}}
  {{- $key := $certManager.privateKey -}}
  {{- $size := int $key.size -}}
  {{- if $size -}}
    {{- if eq $key.algorithm "RSA" -}}{{- if or (lt $size 2048) (gt $size 8192) -}}
      {{- $errors = append $errors (printf "tls.certManager.privateKey.size: %d is not an RSA key size cert-manager accepts (2048 to 8192); use 2048, 3072 or 4096, or 0 for cert-manager's default (2048)" $size) -}}
    {{- end -}}{{- else if eq $key.algorithm "ECDSA" -}}{{- if not (has $size (list 256 384 521)) -}}
      {{- $errors = append $errors (printf "tls.certManager.privateKey.size: %d is not an ECDSA curve size cert-manager accepts; use 256, 384 or 521, or 0 for cert-manager's default (256)" $size) -}}
    {{- end -}}{{- else -}}
      {{- $errors = append $errors (printf "tls.certManager.privateKey.size: %d, but an %s key has no size (cert-manager ignores it); set it to 0" $size $key.algorithm) -}}
    {{- end -}}
  {{- end -}}
  {{- /* cert-manager's webhook refuses these (ValidateDuration in cert-manager's
         internal/apis/certmanager/validation/certificate.go); say so at template time. Its
         default duration is 90 days. A duration Go cannot hold is not compared. */ -}}
  {{- $duration := 7776000000 -}}
  {{- with $certManager.duration -}}
    {{- with include "grpc-ingress.durationProblem" (list "tls.certManager.duration" . "any") -}}
      {{- $errors = append $errors . -}}
      {{- $duration = 0 -}}
    {{- else -}}
      {{- $duration = include "grpc-ingress.durationMs" . | atoi -}}
      {{- if lt $duration 3600000 -}}
        {{- $errors = append $errors (printf "tls.certManager.duration: %s is shorter than cert-manager's minimum of 1h; use 1h or more (e.g. 2160h for 90 days)" .) -}}
      {{- end -}}
    {{- end -}}
  {{- end -}}
  {{- with $certManager.renewBefore -}}
    {{- with include "grpc-ingress.durationProblem" (list "tls.certManager.renewBefore" . "any") -}}
      {{- $errors = append $errors . -}}
    {{- else -}}
      {{- $renewBefore := include "grpc-ingress.durationMs" . | atoi -}}
      {{- if lt $renewBefore 300000 -}}
        {{- $errors = append $errors (printf "tls.certManager.renewBefore: %s is shorter than cert-manager's minimum of 5m; use 5m or more" .) -}}
      {{- end -}}
      {{- if $duration -}}{{- if ge $renewBefore $duration -}}
        {{- $errors = append $errors (printf "tls.certManager.renewBefore: %s is not shorter than the certificate's duration (%s); cert-manager would renew forever; make it shorter" . (default "90 days, cert-manager's default" $certManager.duration)) -}}
      {{- end -}}{{- end -}}
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
  {{- /* Istio redirects with Envoy's require_tls (buildGatewayHTTPRouteConfig in
         pilot/pkg/networking/core/gateway.go), which answers https://<Host header><path>
         (Http::Utility::createSslRedirectPath in Envoy's source/common/http/utility.cc):
         clients land on 443 only when they came to 80, where Host carries no port. */ -}}
  {{- if and $tls.httpsRedirect $tls.enabled -}}{{- if or (ne (int $tls.port) 443) (ne (int $tls.redirectPort) 80) -}}
    {{- $errors = append $errors (printf "tls.httpsRedirect: the redirect answers https://<host>/<path> with the Host header as the client sent it, so clients of port 80 land on 443 and clients of any other port on that same port again; here the redirect server is on %d (tls.redirectPort) and HTTPS on %d (tls.port), so redirected clients reach no HTTPS server; use tls.redirectPort: 80 and tls.port: 443, or remove tls.httpsRedirect" (int $tls.redirectPort) (int $tls.port)) -}}
  {{- end -}}{{- end -}}
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
{{- with $cors.maxAge -}}{{- with include "grpc-ingress.durationProblem" (list "grpcWeb.cors.maxAge" . "s") -}}
  {{- $errors = append $errors . -}}
{{- end -}}{{- end -}}
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
    {{- if kindIs "map" $origin -}}{{- with $origin.regex -}}{{- with include "grpc-ingress.regexProblem" . -}}
      {{- $errors = append $errors (printf "grpcWeb.cors.allowOrigins[%d].regex: %s %s" $index (include "grpc-ingress.shorten" $origin.regex) .) -}}
    {{- end -}}{{- end -}}{{- end -}}
  {{- end -}}
  {{- if not $cors.allowOrigins -}}
    {{- $errors = append $errors "grpcWeb.cors.allowOrigins: gRPC-Web is enabled but the list is empty, so no origin may call it; list the web origins (for example https://app.example.com)" -}}
  {{- end -}}
  {{- /* Envoy's CORS filter answers any allowed origin by echoing it in
         Access-Control-Allow-Origin (CorsFilter::encodeHeaders in Envoy's
         source/extensions/filters/http/cors/cors_filter.cc), so with credentials every web
         site could make calls carrying the user's cookies. */ -}}
  {{- if and $cors.allowAnyOrigin $cors.allowCredentials -}}
    {{- $errors = append $errors "grpcWeb.cors.allowCredentials: true together with allowAnyOrigin: true lets every web site call these services with the user's cookies and credentials (Envoy echoes the caller's origin); list the origins that may send credentials in allowOrigins and set allowAnyOrigin: false, or set allowCredentials: false" -}}
  {{- end -}}
  {{- /* An EnvoyFilter applies to the gateway pods of its own namespace, or from the mesh's
         root namespace (istio-system by default) to all (PushContext.EnvoyFilters in
         pilot/pkg/model/push_context.go); anywhere else it applies to nothing. */ -}}
  {{- if $model.envoyFilter.enabled -}}{{- with $values.grpcWeb.envoyFilter.namespace -}}
    {{- if not (has . (list $model.gateway.workloadNamespace "istio-system")) -}}
      {{- $errors = append $errors (printf "grpcWeb.envoyFilter.namespace: %s is neither the gateway pods' namespace (gateway.workloadNamespace: %s) nor Istio's root namespace (istio-system), and Istio applies an EnvoyFilter only there, so gRPC-Web would not work; leave it empty (the gateway pods' namespace) or set one of those" . $model.gateway.workloadNamespace) -}}
    {{- end -}}
  {{- end -}}{{- end -}}
{{- end -}}

{{- /* streaming, retries, trafficPolicy: the chart-wide defaults routes inherit */ -}}
{{- $errors = concat $errors (include "grpc-ingress.trafficPolicyProblems" (list "streaming" $values.streaming) | fromJsonArray) -}}
{{- range $kind := list "unary" "streaming" -}}
  {{- with index $values.retries $kind | default dict -}}{{- with .perTryTimeout -}}
    {{- with include "grpc-ingress.durationProblem" (list (printf "retries.%s.perTryTimeout" $kind) .) -}}{{- $errors = append $errors . -}}{{- end -}}
  {{- end -}}{{- end -}}
{{- end -}}
{{- $errors = concat $errors (include "grpc-ingress.trafficPolicyProblems" (list "trafficPolicy" $values.trafficPolicy $values.istio.version) | fromJsonArray) -}}

{{- /* routes: one pass, plus one over the routes that mix services and methods. */ -}}
{{- $routeNames := dict -}}
{{- $serviceOwner := dict -}}
{{- $methodOwner := dict -}}
{{- $catchAll := "" -}}
{{- /* Durations found fine, by value (see below): regexMatch compiles its regex on every
       call, and a thousand routes share a few durations. A suspect one is looked at again
       each time: it is rare, and durationProblem costs more anyway. */ -}}
{{- $fine := dict -}}
{{- range $index, $route := $values.routes -}}
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
      {{- $key := printf "routes[%d].backends[%d].host" $index $position -}}
      {{- if $route.backend -}}{{- $key = printf "routes[%d].backend.host" $index -}}{{- end -}}
      {{- with include "grpc-ingress.serviceHostProblem" (list $key $target.host $values.clusterDomain) -}}{{- $errors = append $errors . -}}{{- end -}}
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
  {{- if $route.timeout -}}
    {{- if $route.streaming -}}
    {{- $errors = append $errors (printf "routes[%d].timeout: route %q is streaming, and an Istio route timeout also ends every stream after %s (0s is refused); remove timeout, or set streaming: false for a unary route" $index $route.name $route.timeout) -}}
    {{- end -}}
    {{- /* Only what may be refused costs a call: a non-zero duration of whole h/m/s/ms of
           at most seven characters is at least 1ms, to the millisecond, and fits Go. */ -}}
    {{- $t := toString $route.timeout -}}
    {{- if hasKey $fine $t -}}
    {{- else if regexMatch "^[-+0.]|[.nuµμ]|^.{8}|^[0-9]+$" $t -}}{{- with include "grpc-ingress.durationProblem" (list (printf "routes[%d].timeout" $index) $route.timeout) -}}
      {{- $errors = append $errors . -}}
    {{- end -}}
    {{- else -}}{{- $_ := set $fine $t true -}}
    {{- end -}}
  {{- end -}}
  {{- if $route.trafficPolicy -}}
    {{- $errors = concat $errors (include "grpc-ingress.trafficPolicyProblems" (list (printf "routes[%d].trafficPolicy" $index) $route.trafficPolicy $values.istio.version $values.trafficPolicy) | fromJsonArray) -}}
  {{- end -}}
  {{- /* Chart-wide retry defaults are merged by Helm, so attempts: 0 there arrives with the
         default retryOn and still means "off". On a route, the user wrote both: say so. */ -}}
  {{- with $route.retries -}}
    {{- with .perTryTimeout -}}
    {{- $t := toString . -}}
    {{- if hasKey $fine $t -}}
    {{- else if regexMatch "^[-+0.]|[.nuµμ]|^.{8}|^[0-9]+$" $t -}}
      {{- with include "grpc-ingress.durationProblem" (list (printf "routes[%d].retries.perTryTimeout" $index) .) -}}{{- $errors = append $errors . -}}{{- end -}}
    {{- else -}}{{- $_ := set $fine $t true -}}
    {{- end -}}{{- end -}}
    {{- if .attempts -}}{{- else if or .perTryTimeout .retryOn -}}
      {{- $errors = append $errors (printf "routes[%d].retries: attempts: 0 turns retries off and cannot be combined with perTryTimeout or retryOn; remove them, or set attempts >= 1" $index) -}}
    {{- end -}}
  {{- end -}}
{{- end -}}
{{- /* Fewer names than routes: some name is used twice; find which. */ -}}
{{- if lt (len $routeNames) (len $values.routes) -}}
  {{- $seen := dict -}}
  {{- range $index, $route := $values.routes -}}
    {{- if hasKey $seen $route.name -}}
      {{- $errors = append $errors (printf "routes[%d].name: %q is already the name of routes[%d]; route names must be unique" $index $route.name (get $seen $route.name)) -}}
    {{- end -}}
    {{- $_ := set $seen $route.name $index -}}
  {{- end -}}
{{- end -}}
{{- /* A second pass, as the owners of services and methods may come later.
       A method of a route that also has services, whose service another route serves,
       would be shadowed: both sit in the services rank, where the earlier route wins (no
       list of such routes: appending to a list copies it, which makes a long route list
       quadratic; raw routes are few).
       Raw prefix/regex routes come after methods and services and before the catch-all, in
       the user's order, and Istio sends a call to the first entry that matches (Envoy's
       route table). A raw route some earlier entry covers completely never matches, and one
       that matches every path leaves the catch-all nothing: both are refused, as service and
       method conflicts are. A regex is judged by the literal text all its matches start with
       (grpc-ingress.regexLiteralPrefix). */ -}}
{{- $earlierRaw := list -}}
{{- range $index, $route := $values.routes -}}
  {{- $raw := false -}}
  {{- if $route.prefix -}}{{- $raw = true -}}{{- else if $route.regex -}}{{- $raw = true -}}{{- end -}}
  {{- if $raw -}}{{- if not (or $route.services $route.methods) -}}
    {{- $field := ternary "prefix" "regex" (not (empty $route.prefix)) -}}
    {{- $text := index $route $field -}}
    {{- $start := $text -}}
    {{- $exact := false -}}
    {{- $valid := true -}}
    {{- $all := eq $text "/" -}}
    {{- if eq $field "regex" -}}
      {{- with include "grpc-ingress.regexProblem" $text -}}
        {{- $errors = append $errors (printf "routes[%d].regex: %s %s" $index (include "grpc-ingress.shorten" $text) .) -}}
        {{- $valid = false -}}
      {{- else -}}
        {{- $info := include "grpc-ingress.regexLiteralPrefix" $text | fromJson -}}
        {{- $start = $info.prefix -}}
        {{- $exact = $info.literal -}}
        {{- $all = has (trimSuffix "$" (trimPrefix "^" $text)) (list ".*" "/.*") -}}
      {{- end -}}
    {{- end -}}
    {{- if $valid -}}
      {{- $parts := splitList "/" $start -}}
      {{- $service := "" -}}
      {{- if gt (len $parts) 2 -}}{{- $service = index $parts 1 -}}{{- end -}}
      {{- $shadow := dict -}}
      {{- range $earlierRaw -}}{{- if not $shadow -}}
        {{- if .all -}}{{- $shadow = . -}}
        {{- else if eq .field "prefix" -}}{{- if hasPrefix .text $start -}}{{- $shadow = . -}}{{- end -}}
        {{- else if eq .text $text -}}{{- $shadow = . -}}
        {{- end -}}
      {{- end -}}{{- end -}}
      {{- if and $service (hasKey $serviceOwner $service) -}}
        {{- $errors = append $errors (printf "routes[%d].%s: %s never matches: every call under /%s/ goes to route %q, which serves %s, and service routes are matched before prefix and regex routes; route single methods with methods: [%s/Method] in a route of their own, or take %s out of route %q" $index $field $text $service (get $serviceOwner $service) $service $service $service (get $serviceOwner $service)) -}}
      {{- else if and $exact (hasKey $methodOwner (trimPrefix "/" $start)) -}}
        {{- $errors = append $errors (printf "routes[%d].regex: %s only matches %s, which route %q routes by method, and methods are matched first; remove this route, or the method from route %q" $index $text $start (get $methodOwner (trimPrefix "/" $start)) (get $methodOwner (trimPrefix "/" $start))) -}}
      {{- else if $shadow -}}
        {{- $errors = append $errors (printf "routes[%d].%s: %s never matches: route %q (routes[%d], %s %s) comes first among prefix and regex routes and matches every path this one would; list this route before it, or remove one of them" $index $field $text $shadow.name (int $shadow.index) $shadow.field $shadow.text) -}}
      {{- end -}}
      {{- if and $all $catchAll -}}
        {{- $errors = append $errors (printf "routes[%d].%s: %s matches every call, so the catch-all route %q is never reached; remove one of them" $index $field $text $catchAll) -}}
      {{- end -}}
      {{- $earlierRaw = append $earlierRaw (dict "name" $route.name "index" $index "field" $field "text" $text "all" $all) -}}
    {{- end -}}
  {{- end -}}{{- end -}}
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
{{- /* A route to a Service this chart renders must use a port the Service has: Istio has no
       cluster for another port and answers 503 (no healthy upstream). */ -}}
{{- if $serviceNames -}}
  {{- range $index, $route := $values.routes -}}
    {{- $targets := $route.backends -}}
    {{- if $route.backend -}}{{- $targets = list $route.backend -}}{{- end -}}
    {{- range $target, $backend := $targets -}}
      {{- $name := first (splitList "." $backend.host) -}}
      {{- if hasKey $serviceNames $name -}}
        {{- $svcIndex := get $serviceNames $name -}}
        {{- $service := index $values.backendServices $svcIndex -}}
        {{- if eq (include "grpc-ingress.serviceFqdn" (list $backend.host $root.Release.Namespace $values.clusterDomain)) (include "grpc-ingress.serviceFqdn" (list $name $root.Release.Namespace $values.clusterDomain)) -}}
          {{- if ne (int $backend.port) (int $service.port) -}}
            {{- $errors = append $errors (printf "routes[%d].%s.port: %d, but the Service %s this chart renders (backendServices[%d]) has port %d only, so Istio would have no upstream for the route (503); use port %d (the Service port, not its targetPort), or change backendServices[%d].port" $index (ternary "backend" (printf "backends[%d]" $target) (not (empty $route.backend))) (int $backend.port) $name (int $svcIndex) (int $service.port) (int $service.port) (int $svcIndex)) -}}
          {{- end -}}
        {{- end -}}
      {{- end -}}
    {{- end -}}
  {{- end -}}
{{- end -}}

{{- /* tests */ -}}
{{- if $values.tests.enabled -}}
  {{- $resources := $values.tests.resources -}}
  {{- /* What the API server takes for a container (ValidateResourceRequirements in
         k8s.io/kubernetes pkg/apis/core/validation): standard resource names, quantities,
         requests at most the limits. The test Pod needs cpu, memory or ephemeral-storage. */ -}}
  {{- $bad := dict -}}
  {{- range $kind := list "requests" "limits" -}}
    {{- range $name, $value := index $resources $kind | default dict -}}
      {{- if not (has $name (list "cpu" "memory" "ephemeral-storage")) -}}
        {{- $errors = append $errors (printf "tests.resources.%s.%s: %s is not a resource the test Pod's container can use (the API server takes standard names); use cpu, memory or ephemeral-storage" $kind $name $name) -}}
        {{- $_ := set $bad $name true -}}
      {{- else if not (include "grpc-ingress.isQuantity" $value) -}}
        {{- $errors = append $errors (printf "tests.resources.%s.%s: %s is not a Kubernetes quantity, and the API server refuses the Pod; write a number with a suffix such as %s" $kind $name (toJson $value) (ternary "100m or 0.5 (CPU cores)" "64Mi or 1Gi (Ki, Mi, Gi are powers of 1024; k, M, G of 1000)" (eq $name "cpu"))) -}}
        {{- $_ := set $bad $name true -}}
      {{- end -}}
    {{- end -}}
  {{- end -}}
  {{- range $name, $request := $resources.requests -}}
    {{- $limit := get ($resources.limits | default dict) $name -}}
    {{- if hasKey $bad $name -}}
    {{- else if and $limit (gt (include "grpc-ingress.quantity" $request | float64) (include "grpc-ingress.quantity" $limit | float64)) -}}
      {{- $errors = append $errors (printf "tests.resources.requests.%s: %v is above its limit %v; the API server refuses such a Pod; lower the request or raise tests.resources.limits.%s" $name $request $limit $name) -}}
    {{- end -}}
  {{- end -}}
{{- end -}}
{{- $_ := set $model "errors" (concat $model.errors $errors) -}}
{{- end -}}

{{/*
The problem with a duration, or "": include "grpc-ingress.durationProblem" (list KEY VALUE [GRAIN])
A bare number (timeout: 10) is refused asking for a unit. Every reader parses durations with Go's time.ParseDuration (the schema takes its whole syntax:
1h30m, 1.5s, .5s, 250000us, a sign): the API server's CEL rules, istiod's webhook (golang/protobuf
jsonpb reads a Duration with time.ParseDuration) and cert-manager. Refused as they refuse:
longer than Go can hold (grpc-ingress.durationOverflows), and by GRAIN:
  "ms" (default, Istio's fields): under 1ms, or a part below a millisecond (ValidateDuration in
       pkg/config/validation/agent/validation.go: "duration must be greater than 1ms", "only
       durations to ms precision are supported");
  "s"  (CORS maxAge): also not whole seconds ("max_age duration is accurate only to seconds
       precision", validateCORSPolicy in pkg/config/validation/validation.go);
  "envoy", "off" (Envoy's own settings in the chart's EnvoyFilters, written to the millisecond
       by grpc-ingress.protoDuration): negative, or a part below a millisecond; "envoy" also
       under 1ms, "off" takes 0s (Envoy's "no timeout");
  "any" (cert-manager's fields): nothing more.
*/}}
{{- define "grpc-ingress.durationProblem" -}}
{{- $key := index . 0 -}}
{{- $value := index . 1 -}}
{{- $grain := "ms" -}}
{{- if gt (len .) 2 -}}{{- $grain = index . 2 -}}{{- end -}}
{{- if not (kindIs "string" $value) -}}
{{- /* The schema lets a bare number through so that this message, with its fix, is the one
       both Helms show: Istio and Envoy read a duration as text with a unit. */ -}}
{{- printf "%s: %v has no unit, and durations are Go durations with one; write \"%vs\" for seconds (or \"%vms\", \"%vm\")" $key $value $value $value $value -}}
{{- else if include "grpc-ingress.durationOverflows" $value -}}
{{- printf "%s: %s is longer than Go's longest duration (2562047h47m16.854775807s), and the API server, istiod and cert-manager all parse it with Go; use at most 2562047h, or leave it out for the default" $key $value -}}
{{- else if ne $grain "any" -}}
{{- $ns := include "grpc-ingress.durationNs" $value | atoi -}}
{{- $istio := has $grain (list "ms" "s") -}}
{{- $what := ternary "negative" (ternary "zero" (printf "%dns" $ns) (eq $ns 0)) (lt $ns 0) -}}
{{- if and $istio (lt $ns 1000000) -}}
{{- printf "%s: %s is %s, and Istio refuses a duration under 1ms (its CRD rule duration(self) >= duration('1ms') and its webhook); use 1ms or more (500ms, 1.5s, 1h30m all work)" $key $value $what -}}
{{- else if lt $ns 0 -}}
{{- printf "%s: %s is negative; use a positive duration%s" $key $value (ternary ", or 0s to turn it off" "" (eq $grain "off")) -}}
{{- else if and (eq $grain "envoy") (lt $ns 1000000) -}}
{{- printf "%s: %s is %s; use 1ms or more, or leave it empty" $key $value $what -}}
{{- else if and (eq $grain "s") (mod $ns 1000000000) -}}
{{- printf "%s: %s is not a whole number of seconds, and Istio takes CORS maxAge to the second only (max_age duration is accurate only to seconds precision); round it to whole seconds (%ds)" $key $value (div $ns 1000000000 | max 1) -}}
{{- else if mod $ns 1000000 -}}
{{- printf "%s: %s has a part below a millisecond, and %s to the millisecond only; round it to %dms or %dms" $key $value (ternary "Istio takes durations (only durations to ms precision are supported)" "the chart writes Envoy's settings" $istio) (div $ns 1000000) (add1 (div $ns 1000000)) -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/*
Problems with the numbers and durations of a traffic policy (the chart-wide one, a route's, or
streaming's idleTimeout and tcpKeepalive), and with http2KeepAlive and outlierDetection, as a
JSON list: include "grpc-ingress.trafficPolicyProblems" (list KEY POLICY [ISTIO_VERSION [CHART_POLICY]])
| fromJsonArray (CHART_POLICY: the chart-wide policy a route's is merged over, field by field)
The bounds are those of the DestinationRule istiod decodes (istio.io/api networking/v1alpha3
destination_rule.pb.go ConnectionPoolSettings: http2MaxRequests and maxRequestsPerConnection
are int32, and the CRD says format: int32; tcpKeepalive.probes is a uint32, the CRD's maximum
4294967295). istiod's webhook refuses larger numbers while decoding ("cannot unmarshal number
... into Go value of type uint32", checked with the Istio harness).
*/}}
{{- define "grpc-ingress.trafficPolicyProblems" -}}
{{- $key := index . 0 -}}
{{- $policy := index . 1 | default dict -}}
{{- $problems := list -}}
{{- range $field := list "maxRequestsPerConnection" "http2MaxRequests" -}}
  {{- with index $policy $field -}}
    {{- if gt (float64 .) 2147483647.0 -}}
      {{- $problems = append $problems (printf "%s.%s: %s is above 2147483647, the largest value of this int32 field of Istio's DestinationRule; use a smaller number" $key $field (toJson .)) -}}
    {{- end -}}
  {{- end -}}
{{- end -}}
{{- $durations := dict -}}
{{- range $field := list "idleTimeout" "connectTimeout" -}}
  {{- with index $policy $field -}}{{- $_ := set $durations $field . -}}{{- end -}}
{{- end -}}
{{- $keepalive := index $policy "tcpKeepalive" | default dict -}}
{{- range $field := list "time" "interval" -}}
  {{- with index $keepalive $field -}}{{- $_ := set $durations (print "tcpKeepalive." $field) . -}}{{- end -}}
{{- end -}}
{{- range $map, $fields := dict "http2KeepAlive" (list "interval" "timeout") "outlierDetection" (list "interval" "baseEjectionTime") -}}
  {{- $settings := index $policy $map | default dict -}}
  {{- range $field := $fields -}}
    {{- with index $settings $field -}}{{- $_ := set $durations (print $map "." $field) . -}}{{- end -}}
  {{- end -}}
{{- end -}}
{{- with $policy.http2KeepAlive -}}
  {{- /* ConnectionPoolSettings.HTTPSettings.http2KeepAlive is in istio.io/api from release-1.31.
         Older CRDs lack it: the API server drops the field (or refuses it under strict field
         validation) and istiod never sees it, so the PINGs would silently not exist (checked
         with the Istio harness: test_backends). */ -}}
  {{- $version := index $ 2 -}}
  {{- if semverCompare "<1.31-0" (printf "%s.0" $version) -}}
    {{- $problems = append $problems (printf "%s.http2KeepAlive: DestinationRule http2KeepAlive exists from Istio 1.31, and istio.version is %s (Istio %s's CRD drops the field, so no PING would be sent); set istio.version: \"1.31\" if the mesh runs 1.31, or remove it (streaming.tcpKeepalive finds dead backend connections on any version)" $key $version $version) -}}
  {{- end -}}
  {{- if and .timeout .interval -}}
    {{- if gt (include "grpc-ingress.durationMs" .timeout | atoi) (include "grpc-ingress.durationMs" .interval | atoi) -}}
      {{- $problems = append $problems (printf "%s.http2KeepAlive.timeout: %s is longer than its interval (%s), so the next PING is due before a lost one is noticed; make the timeout at most the interval" $key .timeout .interval) -}}
    {{- end -}}
  {{- end -}}
{{- end -}}
{{- with $policy.outlierDetection -}}
  {{- /* The counts as they apply: a route's over the chart-wide ones, field by field. */ -}}
  {{- $counts := dict -}}
  {{- if gt (len $) 3 -}}{{- with index $ 3 -}}{{- with .outlierDetection -}}{{- $counts = deepCopy . -}}{{- end -}}{{- end -}}{{- end -}}
  {{- range $field := list "consecutiveGatewayErrors" "consecutive5xxErrors" -}}
    {{- $count := index $policy.outlierDetection $field -}}
    {{- if not (kindIs "invalid" $count) -}}{{- $_ := set $counts $field $count -}}{{- end -}}
  {{- end -}}
  {{- if not (or $counts.consecutiveGatewayErrors $counts.consecutive5xxErrors) -}}
    {{- $problems = append $problems (printf "%s.outlierDetection: neither consecutiveGatewayErrors nor consecutive5xxErrors is above 0, so no pod is ever ejected; set consecutiveGatewayErrors (e.g. 5: connect failures and UNAVAILABLE, the errors of a pod that is down), or remove outlierDetection" $key) -}}
  {{- end -}}
{{- end -}}
{{- range $field, $value := $durations -}}
  {{- with include "grpc-ingress.durationProblem" (list (printf "%s.%s" $key $field) $value) -}}{{- $problems = append $problems . -}}{{- end -}}
{{- end -}}
{{- with $keepalive.probes -}}
  {{- if gt (float64 .) 4294967295.0 -}}
    {{- $problems = append $problems (printf "%s.tcpKeepalive.probes: %s is above 4294967295, the maximum of this uint32 field in Istio's DestinationRule CRD; a handful (3 to 9) is usual" $key (toJson .)) -}}
  {{- end -}}
{{- end -}}
{{- toJson $problems -}}
{{- end -}}

{{/*
What is wrong with a host name, and the host to write instead, or "":
include "grpc-ingress.hostProblem" (list KEY HOST)
A host is lower-case DNS labels joined by dots, optionally "*." first: what Istio's Gateway
and VirtualService hosts and a certificate's DNS names take (no scheme, port, path or IP).
*/}}
{{- define "grpc-ingress.hostProblem" -}}
{{- $key := index . 0 -}}
{{- $host := index . 1 -}}
{{- $pattern := "^(\\*\\.)?([a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?\\.)+[a-z]([-a-z0-9]{0,61}[a-z0-9])?$" -}}
{{- if not (regexMatch $pattern $host) -}}
  {{- $what := list -}}
  {{- $fixed := $host -}}
  {{- if regexMatch "^[A-Za-z][A-Za-z0-9+.-]*://" $fixed -}}{{- $what = append $what "a scheme" -}}{{- $fixed = regexReplaceAll "^[A-Za-z][A-Za-z0-9+.-]*://" $fixed "" -}}{{- end -}}
  {{- if contains "/" $fixed -}}{{- $what = append $what "a path" -}}{{- $fixed = regexReplaceAll "/.*$" $fixed "" -}}{{- end -}}
  {{- if regexMatch ":[0-9]*$" $fixed -}}{{- $what = append $what "a port (the port is tls.port, h2c.port or grpcWeb.port)" -}}{{- $fixed = regexReplaceAll ":[0-9]*$" $fixed "" -}}{{- end -}}
  {{- if hasSuffix "." $fixed -}}{{- $what = append $what "a trailing dot" -}}{{- $fixed = trimSuffix "." $fixed -}}{{- end -}}
  {{- if ne (lower $fixed) $fixed -}}{{- $what = append $what "upper-case letters" -}}{{- $fixed = lower $fixed -}}{{- end -}}
  {{- if and $what (regexMatch $pattern $fixed) -}}
    {{- printf "%s: %q has %s, and a host is the name alone; write %s" $key $host (join " and " $what) $fixed -}}
  {{- else -}}
    {{- printf "%s: %q is not a host name Istio takes: lower-case DNS labels of letters, digits and '-' joined by dots, the last one not all digits (grpc.example.com), optionally *. first (*.example.com); no scheme, port, path or IP address; write the name clients connect to" $key $host -}}
  {{- end -}}
{{- end -}}
{{- end -}}

{{/*
What is wrong with a CORS origin written as a string, and the origin to write, or "":
include "grpc-ingress.originProblem" (list KEY ORIGIN)
Browsers send Origin as scheme://host[:port], with no path and no trailing / (RFC 6454); Istio
compares an exact string with it, so any other form never matches. "*" is any origin.
*/}}
{{- define "grpc-ingress.originProblem" -}}
{{- $key := index . 0 -}}
{{- $origin := index . 1 -}}
{{- $pattern := "^(\\*|[a-z][a-z0-9+.-]*://[^\\s/?#]+)$" -}}
{{- if not (regexMatch $pattern $origin) -}}
  {{- $fixed := $origin -}}
  {{- $what := "" -}}
  {{- if regexMatch "^[a-z][a-z0-9+.-]*://[^\\s/?#]+/$" $origin -}}
    {{- $what = "ends in /" -}}{{- $fixed = trimSuffix "/" $origin -}}
  {{- else if regexMatch "^[a-z][a-z0-9+.-]*://[^\\s/?#]+[/?#]" $origin -}}
    {{- $what = "has a path" -}}{{- $fixed = regexReplaceAll "^([a-z][a-z0-9+.-]*://[^\\s/?#]+).*$" $origin "${1}" -}}
  {{- else if not (contains "://" $origin) -}}
    {{- $what = "has no scheme" -}}{{- $fixed = printf "https://%s" (trimSuffix "/" $origin) -}}
  {{- else if ne (lower $origin) $origin -}}
    {{- $what = "has upper-case letters" -}}{{- $fixed = lower $origin -}}
  {{- end -}}
  {{- if and $what (regexMatch $pattern $fixed) -}}
    {{- printf "%s: %q %s, but a browser sends its Origin as scheme://host[:port] with no path or trailing /, so this never matches; write %s" $key $origin $what $fixed -}}
  {{- else -}}
    {{- printf "%s: %q is not an origin: write scheme://host[:port] as the browser sends it (https://app.example.com), \"*\" with allowAnyOrigin, or a match object ({prefix: ...} or {regex: ...})" $key $origin -}}
  {{- end -}}
{{- end -}}
{{- end -}}

{{/*
A value as a message shows it: as it is, or its first 60 characters and its length when it is
longer than 100: include "grpc-ingress.shorten" TEXT
*/}}
{{- define "grpc-ingress.shorten" -}}
{{- if gt (len .) 100 -}}{{- printf "%s... (%d characters)" (trunc 60 .) (len .) -}}{{- else -}}{{- . -}}{{- end -}}
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
