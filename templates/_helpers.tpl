{{/*
Unit helpers for the rules in _validate.tpl: values the schema already accepted, as numbers,
and the bounds of the components that read them.
*/}}

{{/*
A Go duration in nanoseconds, as time.ParseDuration computes it: include "grpc-ingress.durationNs" "1.5s" | atoi
Units h, m, s, ms, us (µs, μs) and ns, in any order and repeated, each with an optional
fraction ("1h30m", "1.5s", ".5ms", "250000us"); a leading "-" negates, and "0" is 0. Integer
parts are exact; a fraction goes through a float64 and is truncated, as Go does
(`v += uint64(float64(f) * (float64(unit) / scale))` in time.ParseDuration), so the result
is the number Istio then checks. Callers rule out durations Go cannot hold first
(grpc-ingress.durationOverflows): int64 arithmetic would wrap.
*/}}
{{- define "grpc-ingress.durationNs" -}}
{{- $unit := dict "ns" 1 "us" 1000 "µs" 1000 "μs" 1000 "ms" 1000000 "s" 1000000000 "m" 60000000000 "h" 3600000000000 -}}
{{- $total := 0 -}}
{{- $text := toString . -}}{{- /* a bare number (refused by durationProblem) counts as 0 */ -}}
{{- range regexFindAll "[0-9]*(\\.[0-9]*)?(ns|us|µs|μs|ms|s|m|h)" $text -1 -}}
  {{- $number := regexFind "^[0-9]*(\\.[0-9]*)?" . -}}
  {{- $scale := get $unit (trimPrefix $number .) -}}
  {{- $parts := splitList "." $number -}}
  {{- with first $parts -}}{{- $total = add $total (mul (atoi .) $scale) -}}{{- end -}}
  {{- if gt (len $parts) 1 -}}{{- with trunc 18 (index $parts 1) -}}
    {{- $total = add $total (mulf (float64 (atoi .)) (divf (float64 $scale) (float64 (print "1" (repeat (len .) "0"))))) -}}
  {{- end -}}{{- end -}}
{{- end -}}
{{- if hasPrefix "-" $text -}}{{- $total = sub 0 $total -}}{{- end -}}
{{- $total -}}
{{- end -}}

{{/* A Go duration in whole milliseconds (truncated): include "grpc-ingress.durationMs" "1h30m" | atoi */}}
{{- define "grpc-ingress.durationMs" -}}
{{- div (include "grpc-ingress.durationNs" . | atoi) 1000000 -}}
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
{{- $unit := dict "h" 3600000.0 "m" 60000.0 "s" 1000.0 "ms" 1.0 "us" 0.001 "µs" 0.001 "μs" 0.001 "ns" 0.000001 -}}
{{- range regexFindAll "[0-9]*(\\.[0-9]*)?(ns|us|µs|μs|ms|s|m|h)" . -1 -}}
{{- $number := regexFind "^[0-9]*(\\.[0-9]*)?" . -}}
{{- $ms = addf $ms (mulf (float64 $number) (get $unit (trimPrefix $number .))) -}}
{{- end -}}
{{- if gt $ms 9223372036854.775807 -}}true{{- end -}}
{{- end -}}
{{- end -}}

{{/* A duration as protobuf JSON writes one, whole or fractional seconds ("5400s", "0.250s"),
     the only form Envoy's config (EnvoyFilter patch values) accepts: include "grpc-ingress.protoDuration" "1h30m" */}}
{{- define "grpc-ingress.protoDuration" -}}
{{- $ms := include "grpc-ingress.durationMs" . | atoi -}}
{{- if mod $ms 1000 -}}{{- printf "%d.%03ds" (div $ms 1000) (mod $ms 1000) -}}{{- else -}}{{- printf "%ds" (div $ms 1000) -}}{{- end -}}
{{- end -}}
