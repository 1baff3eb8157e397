{{/*
Client connections (downstream: client <-> gateway): what the gateway's Envoy does with the
connections and streams of this chart's clients, as EnvoyFilter MERGE patches on the HTTP
connection manager (HCM) of this chart's own filter chains, plus one Listener field.

Why an EnvoyFilter: Istio has no API for these on a gateway before 1.31, and 1.31's
ProxyConfig connectionSettings apply to every server of the gateway pods. Istio writes them
while it builds the listener (applyConnectionSettingsToHCM in
pilot/pkg/networking/core/connection_settings.go, release-1.31) and applies EnvoyFilter
patches afterwards, so a MERGE here wins on this chart's chains and leaves other chains
alone. MERGE replaces a duration as a whole, 0s included (ReplaceMergeFn for
google.protobuf.Duration in pkg/proto/merge/merge.go), so "0s" does turn a timeout off.
*/}}

{{/*
Fill model.connection: include "grpc-ingress.model.connection" (list $ $model)
(after grpc-ingress.model.listeners: it reuses model.envoyFilter's port and SNIs)
  enabled        render the EnvoyFilter (envoyfilter-connection.yaml)
  name, namespace, priority
  chains         [{port, sni}], one HCM patch each: an HTTPS chain by its SNI, or a plaintext
                 port (sni ""), whose one HCM every plaintext server on that port shares
  hcm            HttpConnectionManager fields to MERGE, as Envoy's JSON names them
                 (durations as "Ns"); {} when nothing is set
  listenerPorts  bind ports whose Listener gets model.connection.listener
  listener       Listener fields to MERGE ({} when none: per_connection_buffer_limit_bytes
                 is per listener, so it reaches every server on the port, not only these)
The rules (Envoy's ranges, keepalive timeout within its interval, drain time within the
connection's lifetime) append to model.errors.
*/}}
{{- define "grpc-ingress.model.connection" -}}
{{- $root := index . 0 -}}
{{- $model := index . 1 -}}
{{- $values := $root.Values -}}
{{- $down := $values.downstream -}}
{{- $errors := list -}}

{{- /* Durations Go cannot hold (istiod parses the patch with Go), negative ones, and parts
       below the millisecond protoDuration writes (durationProblem; 0s is "off" where Envoy
       reads it so). */ -}}
{{- $keepalive := $down.http2.keepalive | default dict -}}
{{- range $key, $value := dict "streamIdleTimeout" $down.streamIdleTimeout "requestTimeout" $down.requestTimeout
      "maxConnectionDuration" $down.maxConnectionDuration "drainTimeout" $down.drainTimeout
      "http2.keepalive.interval" $keepalive.interval "http2.keepalive.timeout" $keepalive.timeout -}}
  {{- with $value -}}{{- with include "grpc-ingress.durationProblem" (list (print "downstream." $key) . (ternary "off" "envoy" (has $key (list "streamIdleTimeout" "requestTimeout")))) -}}{{- $errors = append $errors . -}}{{- end -}}{{- end -}}
{{- end -}}

{{- /* Timeouts. "" leaves Istio's value; "0s" is Envoy's "off". */ -}}
{{- $hcm := dict -}}
{{- $common := dict -}}
{{- $http2 := dict -}}
{{- with $down.streamIdleTimeout -}}{{- $_ := set $hcm "stream_idle_timeout" (include "grpc-ingress.protoDuration" .) -}}{{- end -}}
{{- with $down.requestTimeout -}}{{- $_ := set $hcm "request_timeout" (include "grpc-ingress.protoDuration" .) -}}{{- end -}}
{{- with $down.drainTimeout -}}{{- $_ := set $hcm "drain_timeout" (include "grpc-ingress.protoDuration" .) -}}{{- end -}}
{{- /* max_connection_duration starts a drain (GOAWAY, drain_timeout, final GOAWAY); the
       connection closes once its last stream ends, so open streams are not cut
       (ConnectionManagerImpl::onConnectionDurationTimeout and checkForDeferredClose in
       Envoy's source/common/http/conn_manager_impl.cc). */ -}}
{{- with $down.maxConnectionDuration -}}{{- $_ := set $common "max_connection_duration" (include "grpc-ingress.protoDuration" .) -}}{{- end -}}
{{- if and $down.maxConnectionDuration $down.drainTimeout -}}
  {{- if gt (include "grpc-ingress.durationMs" $down.drainTimeout | atoi) (include "grpc-ingress.durationMs" $down.maxConnectionDuration | atoi) -}}
    {{- $errors = append $errors (printf "downstream.drainTimeout: %s is longer than downstream.maxConnectionDuration (%s), so a connection would drain for longer than it lives; make drainTimeout at most maxConnectionDuration" $down.drainTimeout $down.maxConnectionDuration) -}}
  {{- end -}}
{{- end -}}

{{- /* HTTP/2 keepalive: Envoy requires a timeout with the interval (KeepaliveSettings in
       envoy/config/core/v3/protocol.proto). */ -}}
{{- if $keepalive.interval -}}
  {{- if not $keepalive.timeout -}}
    {{- $errors = append $errors (printf "downstream.http2.keepalive.timeout: empty, but downstream.http2.keepalive.interval is %s and Envoy needs a timeout for its PINGs; set a timeout (e.g. 20s), or set interval to \"\" for no PINGs" $keepalive.interval) -}}
  {{- else -}}
    {{- if gt (include "grpc-ingress.durationMs" $keepalive.timeout | atoi) (include "grpc-ingress.durationMs" $keepalive.interval | atoi) -}}
      {{- $errors = append $errors (printf "downstream.http2.keepalive.timeout: %s is longer than its interval (downstream.http2.keepalive.interval: %s), so the next PING is due before a lost one is noticed; make the timeout at most the interval" $keepalive.timeout $keepalive.interval) -}}
    {{- end -}}
    {{- $_ := set $http2 "connection_keepalive" (dict "interval" (include "grpc-ingress.protoDuration" $keepalive.interval) "timeout" (include "grpc-ingress.protoDuration" $keepalive.timeout)) -}}
  {{- end -}}
{{- end -}}

{{- /* Limits: 0 leaves Istio's value; otherwise Envoy's range (Http2ProtocolOptions in
       envoy/config/core/v3/protocol.proto: max_concurrent_streams 1..2^31-1, windows
       65535..2^31-1; Listener.per_connection_buffer_limit_bytes is a UInt32Value). */ -}}
{{- $limits := list
  (list "maxConcurrentStreams" "max_concurrent_streams" 1 2147483647 "1 (HTTP/2 needs one stream) to 2147483647 (2^31-1)")
  (list "initialStreamWindowSize" "initial_stream_window_size" 65535 2147483647 "65535 (HTTP/2's initial window) to 2147483647 (2^31-1, HTTP/2's largest)")
  (list "initialConnectionWindowSize" "initial_connection_window_size" 65535 2147483647 "65535 (HTTP/2's initial window) to 2147483647 (2^31-1, HTTP/2's largest)") -}}
{{- range $limits -}}
  {{- $value := get $down.http2 (index . 0) | default 0 | int64 -}}
  {{- if $value -}}
    {{- if or (lt $value (index . 2 | int64)) (gt $value (index . 3 | int64)) -}}
      {{- $errors = append $errors (printf "downstream.http2.%s: %d is outside Envoy's range %s; use a value in it, or 0 for Istio's value" (index . 0) $value (index . 4)) -}}
    {{- end -}}
    {{- $_ := set $http2 (index . 1) $value -}}
  {{- end -}}
{{- end -}}
{{- $listener := dict -}}
{{- with $down.perConnectionBufferLimitBytes -}}
  {{- if gt (int64 .) 4294967295 -}}
    {{- $errors = append $errors (printf "downstream.perConnectionBufferLimitBytes: %d is outside Envoy's range 1 to 4294967295 (a 32-bit count of bytes); use a value in it, or 0 for Istio's value" (int64 .)) -}}
  {{- end -}}
  {{- $_ := set $listener "per_connection_buffer_limit_bytes" (int64 .) -}}
{{- end -}}
{{- if $common -}}{{- $_ := set $hcm "common_http_protocol_options" $common -}}{{- end -}}
{{- if $http2 -}}{{- $_ := set $hcm "http2_protocol_options" $http2 -}}{{- end -}}

{{- /* This chart's chains. HTTPS: the gRPC-Web patch's port and SNIs (one per HTTPS server,
       see _listeners.tpl), so both patches always scope alike. Plaintext (h2c, GRPC-WEB): Istio
       builds one chain, and one HCM, per plaintext port, matched by port alone. The 301
       redirect server carries no streams and is left alone. */ -}}
{{- $chains := list -}}
{{- $ports := dict -}}
{{- if $model.tls.enabled -}}
  {{- range $model.envoyFilter.snis -}}{{- $chains = append $chains (dict "port" $model.envoyFilter.port "sni" .) -}}{{- end -}}
  {{- $_ := set $ports (toString $model.envoyFilter.port) $model.envoyFilter.port -}}
{{- end -}}
{{- range $model.listeners -}}
  {{- if has .protocol (list "HTTP2" "GRPC-WEB") -}}
    {{- $port := include "grpc-ingress.connection.bindPort" (list $root $model .) | int -}}
    {{- $chains = append $chains (dict "port" $port "sni" "") -}}
    {{- $_ := set $ports (toString $port) $port -}}
  {{- end -}}
{{- end -}}
{{- $listenerPorts := list -}}
{{- if $listener -}}{{- range $ports -}}{{- $listenerPorts = append $listenerPorts . -}}{{- end -}}{{- end -}}

{{- $mode := $down.envoyFilter.enabled | toString -}}
{{- $enabled := false -}}
{{- if or (eq $mode "true") (and (eq $mode "auto") $values.gateway.create) -}}
  {{- if and (or $hcm $listener) $chains -}}{{- $enabled = true -}}{{- end -}}
{{- end -}}
{{- $_ := set $model "connection" (dict
  "enabled" $enabled
  "name" (include "grpc-ingress.fit" (printf "%s-connections" $model.names.fullname))
  "namespace" $model.names.workloadNamespace
  "priority" ($down.envoyFilter.priority | int)
  "chains" $chains
  "hcm" $hcm
  "listenerPorts" $listenerPorts
  "listener" $listener) -}}
{{- $_ := set $model "errors" (concat $model.errors $errors) -}}
{{- end -}}

{{/*
The port a plaintext listener's pod binds: include "grpc-ingress.connection.bindPort" (list $ $model LISTENER)
Istio binds a Gateway server to the gateway Service's targetPort, or to the port itself when
the Service has no such port (resolvePorts in pilot/pkg/model/gateway.go); every listener
carries that port from the gateway port model (_gateway.tpl).
*/}}
{{- define "grpc-ingress.connection.bindPort" -}}
{{- (index . 2).bindPort -}}
{{- end -}}
