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
labels and commonLabels. Annotation values are free text:
quote writes each one as a double-quoted YAML scalar whose escapes YAML readers understand,
where toYaml fails on control characters and returns "", which would silently drop every
annotation.
*/}}
{{- define "grpc-ingress.metadataTail" -}}
labels:
  {{- if .labels }}
  {{- toYaml (merge .labels (include "grpc-ingress.labels" .ctx | fromYaml)) | nindent 2 }}
  {{- else }}
  {{- include "grpc-ingress.labels" .ctx | nindent 2 }}
  {{- end }}
{{- with merge (.annotations | default dict) (.ctx.Values.commonAnnotations | default dict) }}
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
Label or annotation keys whose prefix is longer than the API server allows, as a JSON list of
messages: include "grpc-ingress.keyPrefixProblems" (list KEY MAP) | fromJsonArray
A key is prefix/name with the prefix a DNS subdomain of at most 253 characters (IsQualifiedName
in k8s.io/apimachinery pkg/util/validation/validation.go, used for labels, selectors and
annotations alike; Istio validates its selectors and subset labels the same way). The schema
checks the syntax and the name's 63 characters; a length bound on the prefix is beyond its
patterns.
*/}}
{{- define "grpc-ingress.keyPrefixProblems" -}}
{{- $problems := list -}}
{{- range $key, $_ := index . 1 | default dict -}}
  {{- if contains "/" $key -}}{{- $prefix := first (splitList "/" $key) -}}{{- if gt (len $prefix) 253 -}}
    {{- $problems = append $problems (printf "%s: the key %s has a %d-character prefix, and the API server takes at most 253 (a DNS subdomain); shorten the prefix (the part before /)" (index $ 0) (include "grpc-ingress.shorten" $key) (len $prefix)) -}}
  {{- end -}}{{- end -}}
{{- end -}}
{{- toJson $problems -}}
{{- end -}}
