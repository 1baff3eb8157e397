{{/*
Unit helpers for the rules in _validate.tpl: values the schema already accepted, as numbers,
and the bounds of the components that read them.
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

{{/*
Whether a value is a Kubernetes quantity the API server takes for a container resource: include "grpc-ingress.isQuantity" VALUE ("true" or "")
The grammar of k8s.io/apimachinery pkg/api/resource/quantity.go (ParseQuantity): a number,
then one binary (Ki Mi Gi Ti Pi Ei) or decimal (n u m k M G T P E) suffix or an exponent
(e3); no sign, since resource values must not be negative (ValidateNonnegativeQuantity).
*/}}
{{- define "grpc-ingress.isQuantity" -}}
{{- if regexMatch "^\\+?([0-9]+(\\.[0-9]*)?|\\.[0-9]+)([KMGTPE]i|[numkMGTPE]|[eE][+-]?[0-9]+)?$" (toString .) -}}true{{- end -}}
{{- end -}}

{{/* A Kubernetes quantity (500m, 2, 64Mi, 1G, 1e3) as a plain number, for comparing requests with limits: include "grpc-ingress.quantity" "64Mi" | float64 */}}
{{- define "grpc-ingress.quantity" -}}
{{- $text := trimPrefix "+" (toString .) -}}
{{- $number := regexFind "^([0-9]+(\\.[0-9]*)?|\\.[0-9]+)" $text -}}
{{- $suffix := trimPrefix $number $text -}}
{{- $unit := dict "" 1.0 "n" 1e-9 "u" 1e-6 "m" 0.001 "k" 1e3 "M" 1e6 "G" 1e9 "T" 1e12 "P" 1e15 "E" 1e18 "Ki" 1024.0 "Mi" 1048576.0 "Gi" 1073741824.0 "Ti" 1099511627776.0 "Pi" 1125899906842624.0 "Ei" 1152921504606846976.0 -}}
{{- if regexMatch "^[eE][+-]?[0-9]+$" $suffix -}}
{{- $number | float64 | mulf (float64 (printf "1e%s" (trimPrefix "e" (trimPrefix "E" $suffix)))) -}}
{{- else -}}
{{- mulf (float64 $number) (get $unit $suffix) -}}
{{- end -}}
{{- end -}}

{{/*
Whether a duration is longer than Go can hold: include "grpc-ingress.durationOverflows" "3000000h" ("true" or "")
Every reader of these durations parses them with Go's time.ParseDuration, which refuses
anything above math.MaxInt64 ns = 2562047h47m16.854775807s: the API server (Istio's CRDs
check durations with the CEL rule duration(self) >= duration('1ms')), istiod's webhook
("bad Duration: time: invalid duration", checked with the Istio harness) and cert-manager
(metav1.Duration in k8s.io/apimachinery pkg/apis/meta/v1/duration.go). Fractions (1.5s) are
read too. Seven characters cannot overflow (999999h is the most), so short ones cost nothing.
*/}}
{{- define "grpc-ingress.durationOverflows" -}}
{{- if gt (len .) 7 -}}
{{- $ms := 0.0 -}}
{{- $unit := dict "h" 3600000.0 "m" 60000.0 "s" 1000.0 "ms" 1.0 "us" 0.001 "µs" 0.001 "ns" 0.000001 -}}
{{- range regexFindAll "[0-9]*(\\.[0-9]*)?(ns|us|µs|ms|s|m|h)" . -1 -}}
{{- $number := regexFind "^[0-9]*(\\.[0-9]*)?" . -}}
{{- $ms = addf $ms (mulf (float64 $number) (get $unit (trimPrefix $number .))) -}}
{{- end -}}
{{- if gt $ms 9223372036854.775807 -}}true{{- end -}}
{{- end -}}
{{- end -}}
