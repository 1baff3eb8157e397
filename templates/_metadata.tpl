{{/*
Labels and metadata blocks. The parts every document shares are computed once per render
and kept on the render context: a large route set renders a thousand DestinationRules.
*/}}

{{/*
Standard labels plus commonLabels, as YAML: include "grpc-ingress.labels" $
Merged as a map, never concatenated as text: a commonLabels key equal to a standard one
would otherwise write a duplicate YAML key. The standard labels win because selectors and
tooling rely on them.
*/}}
{{- define "grpc-ingress.labels" -}}
{{- if not (hasKey . "grpcIngressLabels") -}}
{{- $standard := dict
  "helm.sh/chart" (include "grpc-ingress.chart" .)
  "app.kubernetes.io/name" (include "grpc-ingress.name" .)
  "app.kubernetes.io/instance" .Release.Name
  "app.kubernetes.io/version" (.Chart.AppVersion | toString)
  "app.kubernetes.io/managed-by" .Release.Service
  "app.kubernetes.io/part-of" "grpc-ingress" -}}
{{- $_ := set . "grpcIngressLabels" (toYaml (merge $standard (.Values.commonLabels | default dict))) -}}
{{- end -}}
{{- .grpcIngressLabels -}}
{{- end -}}

{{/*
Labels and annotations of a metadata block, after name and namespace:
include "grpc-ingress.metadataTail" (dict "ctx" $ "annotations" MAP "labels" MAP)
annotations (optional) are merged over commonAnnotations; labels (optional) over the standard
labels and commonLabels, so a key in both is written once, with the caller's value. Both merge
into a new map: merge writes into its first argument, which here would be the user's values. Annotation values are free text:
quote writes each one as a double-quoted YAML scalar whose escapes YAML readers understand,
where toYaml fails on control characters and returns "", which would silently drop every
annotation.
*/}}
{{- define "grpc-ingress.metadataTail" -}}
labels:
  {{- if .labels }}
  {{- toYaml (merge (dict) .labels (include "grpc-ingress.labels" .ctx | fromYaml)) | nindent 2 }}
  {{- else }}
  {{- include "grpc-ingress.labels" .ctx | nindent 2 }}
  {{- end }}
{{- with merge (dict) (.annotations | default dict) (.ctx.Values.commonAnnotations | default dict) }}
annotations:
  {{- range $key, $value := . }}
  {{ $key | quote }}: {{ $value | quote }}
  {{- end }}
{{- end }}
{{- end -}}

{{/*
The labels and annotations every document without annotations of its own carries, computed
once per render: include "grpc-ingress.sharedMetadataTail" $
*/}}
{{- define "grpc-ingress.sharedMetadataTail" -}}
{{- if not (hasKey . "grpcIngressMetadataTail") -}}
{{- $_ := set . "grpcIngressMetadataTail" (include "grpc-ingress.metadataTail" (dict "ctx" .)) -}}
{{- end -}}
{{- .grpcIngressMetadataTail -}}
{{- end -}}

{{/*
A metadata: block body: include "grpc-ingress.metadata" (dict "ctx" $ "name" N "namespace" NS "annotations" MAP "labels" MAP)
*/}}
{{- define "grpc-ingress.metadata" -}}
name: {{ .name | quote }}
namespace: {{ .namespace | quote }}
{{ if or .annotations .labels }}{{ include "grpc-ingress.metadataTail" . }}{{ else }}{{ include "grpc-ingress.sharedMetadataTail" .ctx }}{{ end }}
{{- end -}}

{{/*
Label or annotation keys the API server would refuse, as a JSON list of messages:
include "grpc-ingress.keyProblems" (list KEY MAP $model) | fromJsonArray
A key is name or prefix/name: the name at most 63 characters, letters, digits, -, _ and .
inside, a letter or digit at each end; the prefix a DNS subdomain of at most 253 characters
(IsQualifiedName in k8s.io/apimachinery pkg/util/validation/validation.go, used for labels,
selectors and annotations alike; Istio validates its selectors and subset labels the same
way). The schema checks the values, the chart the keys: Helm 3's JSON schema library
compiles a patternProperties regex again for every key it checks (gojsonschema
validatePatternProperty), which made a thousand subsetLabels cost more than the routes, and
Helm 4's reports a propertyNames error without the map's path. Each distinct key is checked
once per render (model.keyChecks: key -> its problem, "" for none): regexMatch compiles its
regex on every call, and a thousand subsets share a few keys.
*/}}
{{- define "grpc-ingress.keyProblems" -}}
{{- $problems := list -}}
{{- $checks := (index . 2).keyChecks -}}
{{- range $key, $_ := index . 1 | default dict -}}
  {{- if not (hasKey $checks $key) -}}
    {{- $problem := "" -}}
    {{- if not (regexMatch "^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$" $key) -}}
      {{- $problem = printf "the key %q is not a valid key: a key is a name of 1 to 63 characters (letters, digits, -, _ and . inside, a letter or digit at each end), optionally after a prefix and / (a lower-case DNS subdomain), such as app.kubernetes.io/name; rename the key" (include "grpc-ingress.shorten" $key) -}}
    {{- else if contains "/" $key -}}{{- $prefix := first (splitList "/" $key) -}}{{- if gt (len $prefix) 253 -}}
      {{- $problem = printf "the key %s has a %d-character prefix, and the API server takes at most 253 (a DNS subdomain); shorten the prefix (the part before /)" (include "grpc-ingress.shorten" $key) (len $prefix) -}}
    {{- end -}}{{- end -}}
    {{- $_ := set $checks $key $problem -}}
  {{- end -}}
  {{- with get $checks $key -}}
    {{- $problems = append $problems (printf "%s: %s" (index $ 0) .) -}}
  {{- end -}}
{{- end -}}
{{- toJson $problems -}}
{{- end -}}
