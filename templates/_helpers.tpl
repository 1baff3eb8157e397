{{/*
Unit helpers for the rules in _validate.tpl: values the schema already accepted, as numbers.
*/}}

{{/* A duration (whole h/m/s/ms parts) in milliseconds: include "grpc-ingress.durationMs" "1h30m" | atoi */}}
{{- define "grpc-ingress.durationMs" -}}
{{- $total := 0 -}}
{{- $unit := dict "h" 3600000 "m" 60000 "s" 1000 "ms" 1 -}}
{{- range regexFindAll "[0-9]+(ms|h|m|s)" . -1 -}}
{{- $number := regexFind "^[0-9]+" . -}}
{{- $total = add $total (mul (atoi $number) (get $unit (trimPrefix $number .))) -}}
{{- end -}}
{{- $total -}}
{{- end -}}

{{/* A Kubernetes quantity (500m, 2, 64Mi, 1G) as a plain number, for comparing requests with limits: include "grpc-ingress.quantity" "64Mi" | float64 */}}
{{- define "grpc-ingress.quantity" -}}
{{- $text := toString . -}}
{{- $number := regexFind "^[0-9.]+" $text -}}
{{- $unit := dict "" 1.0 "m" 0.001 "k" 1e3 "M" 1e6 "G" 1e9 "T" 1e12 "Ki" 1024.0 "Mi" 1048576.0 "Gi" 1073741824.0 "Ti" 1099511627776.0 -}}
{{- mulf (float64 $number) (get $unit (trimPrefix $number $text) | default 1.0) -}}
{{- end -}}

{{/* A duration as protobuf JSON writes one, whole or fractional seconds ("5400s", "0.250s"),
     the only form Envoy's config (EnvoyFilter patch values) accepts: include "grpc-ingress.protoDuration" "1h30m" */}}
{{- define "grpc-ingress.protoDuration" -}}
{{- $ms := include "grpc-ingress.durationMs" . | atoi -}}
{{- if mod $ms 1000 -}}{{- printf "%d.%03ds" (div $ms 1000) (mod $ms 1000) -}}{{- else -}}{{- printf "%ds" (div $ms 1000) -}}{{- end -}}
{{- end -}}
