{{/*
The listener side of the model: the servers clients connect to, the certificates and
secrets they present, the gRPC-Web patch for TLS listeners and the helm test check.
*/}}

{{/*
Fill model.tls, model.listeners, model.ports, model.defaultTlsHosts, model.certificates,
model.secrets, model.envoyFilter and model.healthCheck (enabled, clientSecret, reason it is
off; _passthrough.tpl adds the probes):
include "grpc-ingress.model.listeners" (list $ $model)   (after gateway and names)
*/}}
{{- define "grpc-ingress.model.listeners" -}}
{{- $root := index . 0 -}}
{{- $model := index . 1 -}}
{{- $values := $root.Values -}}
{{- $names := $model.names -}}
{{- $tls := $values.tls -}}

{{- /* Hosts served with the default credential: those no tls.hosts entry claims. */ -}}
{{- $claimed := dict -}}
{{- range $tls.hosts -}}{{- range .hosts -}}{{- $_ := set $claimed . true -}}{{- end -}}{{- end -}}
{{- $defaultTlsHosts := list -}}
{{- range $values.hosts -}}{{- if not (hasKey $claimed .) -}}{{- $defaultTlsHosts = append $defaultTlsHosts . -}}{{- end -}}{{- end -}}

{{- /* TLS settings every HTTPS listener shares (its certificate is its own). */ -}}
{{- $tlsSettings := dict "mode" $tls.mode "minProtocolVersion" $tls.minProtocolVersion -}}
{{- with $tls.maxProtocolVersion -}}{{- $_ := set $tlsSettings "maxProtocolVersion" . -}}{{- end -}}
{{- with $tls.cipherSuites -}}{{- $_ := set $tlsSettings "cipherSuites" . -}}{{- end -}}
{{- with $tls.subjectAltNames -}}{{- $_ := set $tlsSettings "subjectAltNames" . -}}{{- end -}}

{{- /* Listeners in the order the Gateway lists its servers, each with the pod port Istio
       binds for it (grpc-ingress.bindPort) and the value that sets its port. Ports the
       gateway Service lacks, bind port clashes and missing certificate sources are refused
       in _validate.tpl. */ -}}
{{- $listeners := list -}}
{{- $ports := dict -}}
{{- if $tls.enabled -}}
  {{- $bind := include "grpc-ingress.bindPort" (list $model $tls.port) | atoi -}}
  {{- /* One HTTPS listener per tls.hosts entry (its own certificate), then one for the rest. */ -}}
  {{- range $i, $entry := $tls.hosts -}}
    {{- $listeners = append $listeners (dict "name" (printf "https-%d" (add1 $i)) "key" "tls.port" "port" (int $tls.port) "bindPort" $bind "protocol" "HTTPS" "hosts" $entry.hosts "tls" (dict "credentialName" $entry.credentialName)) -}}
  {{- end -}}
  {{- if $defaultTlsHosts -}}
    {{- $listeners = append $listeners (dict "name" "https" "key" "tls.port" "port" (int $tls.port) "bindPort" $bind "protocol" "HTTPS" "hosts" $defaultTlsHosts "tls" (dict "credentialName" $names.credentialName)) -}}
  {{- end -}}
  {{- $_ := set $ports "tls" (int $tls.port) -}}
{{- end -}}
{{- if $values.h2c.enabled -}}
  {{- /* Plaintext HTTP/2 with prior knowledge: an HTTP2 server, which must not carry tls settings. */ -}}
  {{- $listeners = append $listeners (dict "name" "h2c" "key" "h2c.port" "port" (int $values.h2c.port) "bindPort" (include "grpc-ingress.bindPort" (list $model $values.h2c.port) | atoi) "protocol" "HTTP2" "hosts" $values.hosts) -}}
  {{- $_ := set $ports "h2c" (int $values.h2c.port) -}}
{{- end -}}
{{- if $tls.httpsRedirect -}}
  {{- /* The one plaintext listener allowed a tls block: httpsRedirect alone. */ -}}
  {{- $listeners = append $listeners (dict "name" "http-redirect" "key" "tls.redirectPort" "port" (int $tls.redirectPort) "bindPort" (include "grpc-ingress.bindPort" (list $model $tls.redirectPort) | atoi) "protocol" "HTTP" "hosts" $values.hosts "httpsRedirect" true) -}}
  {{- $_ := set $ports "redirect" (int $tls.redirectPort) -}}
{{- end -}}
{{- if and $values.grpcWeb.enabled (not $tls.enabled) -}}
  {{- /* Istio adds Envoy's grpc_web filter by itself on a GRPC-WEB server. */ -}}
  {{- $listeners = append $listeners (dict "name" "grpc-web" "key" "grpcWeb.port" "port" (int $values.grpcWeb.port) "bindPort" (include "grpc-ingress.bindPort" (list $model $values.grpcWeb.port) | atoi) "protocol" "GRPC-WEB" "hosts" $values.hosts) -}}
  {{- $_ := set $ports "grpcWeb" (int $values.grpcWeb.port) -}}
{{- end -}}

{{- /* cert-manager Certificates: one per HTTPS listener (tls.hosts entries, then the default
       credential for the remaining hosts). Rendered whenever cert-manager is enabled. */ -}}
{{- $certificates := list -}}
{{- if $tls.certManager.enabled -}}
  {{- /* The key each Certificate asks for. size 0 is the algorithm's default, written out as
         cert-manager would pick it (RSA 2048, ECDSA 256; Ed25519 has no size), so that
         choosing RSA never inherits an ECDSA size from values.yaml. Sizes cert-manager
         refuses are reported in _validate.tpl. */ -}}
  {{- $key := $tls.certManager.privateKey -}}
  {{- $size := int $key.size -}}
  {{- if not $size -}}{{- $size = get (dict "RSA" 2048 "ECDSA" 256) $key.algorithm | default 0 -}}{{- end -}}
  {{- $privateKey := dict "algorithm" $key.algorithm "size" $size "rotationPolicy" $key.rotationPolicy -}}
  {{- range $i, $entry := $tls.hosts -}}
    {{- $certificates = append $certificates (dict "secretName" $entry.credentialName "hosts" $entry.hosts "source" (printf "tls.hosts[%d]" $i) "privateKey" $privateKey) -}}
  {{- end -}}
  {{- if $defaultTlsHosts -}}
    {{- $certificates = append $certificates (dict "secretName" $names.credentialName "hosts" $defaultTlsHosts "source" "tls.credentialName" "privateKey" $privateKey) -}}
  {{- end -}}
{{- end -}}

{{- /* Secrets this chart writes. Istio's gateway reads credentialName secrets, and for
       MUTUAL the client CA in <credentialName>-cacert, from the gateway pods' namespace. */ -}}
{{- $secrets := list -}}
{{- if $tls.secret.create -}}
  {{- $secrets = append $secrets (dict "name" $names.credentialName "type" "kubernetes.io/tls" "data" (dict "tls.crt" $tls.secret.cert "tls.key" $tls.secret.key)) -}}
{{- end -}}
{{- /* The client CA, for every HTTPS server: each reads <its credentialName>-cacert
       (ApplyCredentialSDSToServerCommonTLSContext in pilot/pkg/security/model/authentication.go),
       whichever source its certificate has. Only MUTUAL modes use it (_validate.tpl). */ -}}
{{- if and $tls.enabled $tls.secret.caCert (has $tls.mode (list "MUTUAL" "OPTIONAL_MUTUAL")) -}}
  {{- $written := dict -}}
  {{- range $listeners -}}{{- with .tls -}}{{- if not (hasKey $written .credentialName) -}}
    {{- $secrets = append $secrets (dict "name" (printf "%s-cacert" .credentialName) "type" "Opaque" "data" (dict "ca.crt" $tls.secret.caCert)) -}}
    {{- $_ := set $written .credentialName true -}}
  {{- end -}}{{- end -}}{{- end -}}
{{- end -}}

{{- /*
The gRPC-Web patch for TLS listeners. Istio adds Envoy's grpc_web filter only on plaintext
GRPC-WEB servers, so an HTTPS listener gets it from an EnvoyFilter; "auto" renders it when
this chart owns the Gateway.
- port: the HTTPS server's bind port (the Service's targetPort for tls.port), which is what
  listener.portNumber is compared with (listenerMatch in Istio's
  pilot/pkg/networking/core/envoyfilter/listener_patch.go). grpcWeb.envoyFilter.listenerPort,
  when set (deprecated), overrides it; _validate.tpl refuses an override that contradicts the
  port model of a Gateway this chart renders.
- snis: the filter chains to patch. Istio builds one filter chain per TLS server, whose
  server names are the server's hosts, namespace prefix stripped, de-duplicated and SORTED
  (GetSNIHostsForServer in pilot/pkg/model/gateway.go), and filterChain.sni must EQUAL one
  of them (filterChainMatch: a string compare, so *.example.com matches only the literal
  *.example.com). Own Gateway: the first host of each HTTPS listener as written (any host of
  a server names its chain), one chain each.
  Shared Gateway: grpcWeb.envoyFilter.serverNames, else each of hosts and the wildcards that
  cover it (*.example.com for api.example.com), since the owner's server may list either.
  Each sni gets a REMOVE of grpc_web then the INSERT (envoyfilter.yaml): patches apply in
  list order, so a chain that two snis match (two hosts of one server) still ends with one.
*/ -}}
{{- $web := $values.grpcWeb -}}
{{- $mode := $web.envoyFilter.enabled | toString -}}
{{- $snis := list -}}
{{- if $values.gateway.create -}}
  {{- range $tls.hosts -}}{{- $snis = append $snis (first .hosts) -}}{{- end -}}
  {{- with $defaultTlsHosts -}}{{- $snis = append $snis (first .) -}}{{- end -}}
{{- else if $web.envoyFilter.serverNames -}}
  {{- $snis = $web.envoyFilter.serverNames -}}
{{- else -}}
  {{- range $host := $values.hosts -}}
    {{- $snis = append $snis $host -}}
    {{- /* Wildcards covering the host, down to *.<two labels> (*.example.com, never *.com). */ -}}
    {{- $labels := splitList "." (trimPrefix "*." $host) -}}
    {{- range $i, $_ := $labels -}}
      {{- if and (gt $i 0) (le $i (sub (len $labels) 2)) -}}
        {{- $snis = append $snis (printf "*.%s" (join "." (slice $labels $i))) -}}
      {{- end -}}
    {{- end -}}
  {{- end -}}
  {{- $snis = uniq $snis -}}
{{- end -}}
{{- /* wanted: grpcWeb.envoyFilter.enabled resolved ("auto": when this chart owns the
       Gateway); the Gateway API mode also serves its plaintext gRPC-Web listener with it. */ -}}
{{- $wanted := or (eq $mode "true") (and (eq $mode "auto") $values.gateway.create) -}}
{{- $envoyFilter := dict
  "wanted" $wanted
  "enabled" (and $web.enabled $tls.enabled $wanted)
  "port" ($web.envoyFilter.listenerPort | default (include "grpc-ingress.bindPort" (list $model $tls.port)) | int)
  "priority" (int $web.envoyFilter.priority)
  "snis" $snis -}}

{{- /* The helm test Pod checks every listener (what it calls and how: _passthrough.tpl).
       MUTUAL needs a client certificate the Pod only has when tests.clientSecret names one,
       so without it there is no Pod. */ -}}
{{- $test := $values.tests -}}
{{- $mutual := and $tls.enabled (eq $tls.mode "MUTUAL") -}}

{{- $_ := set $model "tls" (dict "enabled" $tls.enabled "settings" $tlsSettings) -}}
{{- $_ := set $model "listeners" $listeners -}}
{{- $_ := set $model "ports" $ports -}}
{{- $_ := set $model "defaultTlsHosts" $defaultTlsHosts -}}
{{- $_ := set $model "certificates" $certificates -}}
{{- $_ := set $model "secrets" $secrets -}}
{{- $_ := set $model "envoyFilter" $envoyFilter -}}
{{- $testOff := "" -}}
{{- if not $test.enabled -}}{{- $testOff = "tests.enabled is false" -}}
{{- else if and $mutual (not $test.clientSecret) -}}{{- $testOff = "tls.mode is MUTUAL and tests.clientSecret names no client certificate for it" -}}
{{- end -}}
{{- $_ := set $model "healthCheck" (dict "enabled" (not $testOff) "reason" $testOff "clientSecret" $test.clientSecret) -}}
{{- end -}}

{{/*
What keeps PEM text from loading as a kind of block, as the end of a sentence, or "":
include "grpc-ingress.pemProblem" (list TEXT "CERTIFICATE"|"PRIVATE KEY")
Certificates (a chain, a CA bundle): CERTIFICATE blocks only. A key: one unencrypted private
key block (PKCS#8 PRIVATE KEY, PKCS#1 RSA PRIVATE KEY or EC PRIVATE KEY): Istio gives the
gateway no passphrase. Every BEGIN needs its END line (Go's pem.Decode and Envoy skip a
block without one).
*/}}
{{- define "grpc-ingress.pemProblem" -}}
{{- $text := index . 0 -}}
{{- $kind := index . 1 -}}
{{- $begins := regexFindAll "-----BEGIN [A-Z0-9 ]+-----" $text -1 -}}
{{- $ends := regexFindAll "-----END [A-Z0-9 ]+-----" $text -1 -}}
{{- $types := list -}}
{{- range $begins -}}{{- $types = append $types (trimSuffix "-----" (trimPrefix "-----BEGIN " .)) -}}{{- end -}}
{{- $keys := list -}}
{{- range $types -}}{{- if hasSuffix "PRIVATE KEY" . -}}{{- $keys = append $keys . -}}{{- end -}}{{- end -}}
{{- $problem := "" -}}
{{- if eq $kind "CERTIFICATE" -}}
  {{- if $keys -}}
    {{- $problem = printf "holds a private key (-----BEGIN %s-----), not a certificate; are tls.secret.cert and tls.secret.key swapped?" (first $keys) -}}
  {{- else if not (has "CERTIFICATE" $types) -}}
    {{- $problem = "has no -----BEGIN CERTIFICATE----- block; paste the PEM certificates" -}}
  {{- else -}}
    {{- range $types -}}{{- if and (not $problem) (ne . "CERTIFICATE") -}}
      {{- $problem = printf "holds a %s block; only CERTIFICATE blocks belong here" . -}}
    {{- end -}}{{- end -}}
  {{- end -}}
{{- else -}}
  {{- if has "CERTIFICATE" $types -}}
    {{- $problem = "holds a certificate (-----BEGIN CERTIFICATE-----), not a private key; are tls.secret.cert and tls.secret.key swapped?" -}}
  {{- else if not $keys -}}
    {{- $problem = "has no -----BEGIN PRIVATE KEY----- block; paste the PEM private key" -}}
  {{- else if or (has "ENCRYPTED PRIVATE KEY" $keys) (contains "Proc-Type: 4,ENCRYPTED" $text) -}}
    {{- $problem = "is encrypted, and Istio gives the gateway no passphrase; decrypt it (openssl pkey -in key.pem -out plain.pem)" -}}
  {{- else if gt (len $keys) 1 -}}
    {{- $problem = printf "holds %d private keys; give the one that belongs to tls.secret.cert" (len $keys) -}}
  {{- end -}}
{{- end -}}
{{- if not $problem -}}
  {{- range $type := uniq $types -}}{{- if not $problem -}}
    {{- $open := 0 -}}{{- $close := 0 -}}
    {{- range $types -}}{{- if eq . $type -}}{{- $open = add1 $open -}}{{- end -}}{{- end -}}
    {{- range $ends -}}{{- if eq . (printf "-----END %s-----" $type) -}}{{- $close = add1 $close -}}{{- end -}}{{- end -}}
    {{- if ne $open $close -}}
      {{- $problem = printf "has %d -----BEGIN %s----- line(s) but %d -----END %s----- line(s); the PEM is cut short, paste all of it" $open $type $close $type -}}
    {{- end -}}
  {{- end -}}{{- end -}}
{{- end -}}
{{- $problem -}}
{{- end -}}
