{{/*
Names. Every name this chart makes goes through grpc-ingress.fit, so it stays a DNS-1123
label of at most 63 characters; templates read finished names from the model (.names).
*/}}

{{/*
Shorten a name to at most 63 characters, or to max: include "grpc-ingress.fit" NAME, or
(list MAX NAME). A longer name keeps its first max-9 characters and gets an 8-character hash
of the whole name: plain truncation (as most charts do) makes two long release names that
share a prefix collide on the same resources.
*/}}
{{- define "grpc-ingress.fit" -}}
{{- $max := 63 -}}
{{- $name := . -}}
{{- if kindIs "slice" . -}}{{- $max = index . 0 -}}{{- $name = index . 1 -}}{{- end -}}
{{- if le (len $name) $max -}}
{{- trimSuffix "-" $name -}}
{{- else -}}
{{- printf "%s-%s" (trunc (int (sub $max 9)) $name | trimSuffix "-") (sha256sum $name | trunc 8) -}}
{{- end -}}
{{- end -}}

{{/* The chart's name (nameOverride): include "grpc-ingress.name" $ */}}
{{- define "grpc-ingress.name" -}}
{{- include "grpc-ingress.fit" (default .Chart.Name .Values.nameOverride) -}}
{{- end -}}

{{/* The release-scoped name, memoised on the render context: include "grpc-ingress.fullname" $ */}}
{{- define "grpc-ingress.fullname" -}}
{{- if not (hasKey . "grpcIngressFullname") -}}
{{- $fullname := .Values.fullnameOverride -}}
{{- if not $fullname -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- /* Only an exact match is shortened: "contains" (as many charts do) lets two aliased
       instances of an umbrella chart collide (release admin-grpc-ingress, alias admin).
       fullnameOverride is used as given: the schema holds it to a 63-character label. */ -}}
{{- $fullname = include "grpc-ingress.fit" (ternary .Release.Name (printf "%s-%s" .Release.Name $name) (eq $name .Release.Name)) -}}
{{- end -}}
{{- $_ := set . "grpcIngressFullname" $fullname -}}
{{- end -}}
{{- .grpcIngressFullname -}}
{{- end -}}

{{/* The helm.sh/chart label value: include "grpc-ingress.chart" $ */}}
{{- define "grpc-ingress.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/*
Fill model.names: include "grpc-ingress.model.names" (list $ $model)
  fullname, gateway, gatewayNamespace, gatewayRef (namespace/name the routes bind to),
  credentialName (the default TLS secret: tls.credentialName, else <fullname>-tls), workloadNamespace,
  envoyFilter, envoyFilterNamespace, testPod, testProtos (its .proto ConfigMap), testAuthority,
  releaseNamespace.
*/}}
{{- define "grpc-ingress.model.names" -}}
{{- $root := index . 0 -}}
{{- $model := index . 1 -}}
{{- $values := $root.Values -}}
{{- $fullname := include "grpc-ingress.fullname" $root -}}
{{- $gatewayName := $values.gateway.name | default $fullname -}}
{{- $gatewayNamespace := $values.gateway.namespace | default $root.Release.Namespace -}}
{{- $gatewayRef := $values.gateway.ref -}}
{{- if $values.gateway.create -}}{{- $gatewayRef = printf "%s/%s" $gatewayNamespace $gatewayName -}}{{- end -}}
{{- /* The TLS secret: tls.credentialName, else <fullname>-tls, one per release (and per
       aliased instance), so two releases issuing certificates never write one secret. At
       most 56 characters, so that Istio's <credentialName>-cacert still fits in 63. */ -}}
{{- $credentialName := $values.tls.credentialName | default (include "grpc-ingress.fit" (list 56 (printf "%s-tls" $fullname))) -}}
{{- /* The :authority (and SNI) clients use for checks: the first host, a wildcard made concrete. */ -}}
{{- $host := first $values.hosts -}}
{{- $_ := set $model "names" (dict
  "fullname" $fullname
  "gateway" $gatewayName
  "gatewayNamespace" $gatewayNamespace
  "gatewayRef" $gatewayRef
  "credentialName" $credentialName
  "workloadNamespace" $model.gateway.workloadNamespace
  "envoyFilter" (include "grpc-ingress.fit" (printf "%s-grpc-web" $fullname))
  "envoyFilterNamespace" ($values.grpcWeb.envoyFilter.namespace | default $model.gateway.workloadNamespace)
  "testPod" (include "grpc-ingress.fit" (printf "%s-test" $fullname))
  "testProtos" (include "grpc-ingress.fit" (printf "%s-test-protos" $fullname))
  "testAuthority" (include "grpc-ingress.authority" $host)
  "releaseNamespace" $root.Release.Namespace) -}}
{{- end -}}

{{/*
The :authority a client sends for a hosts entry, a wildcard's as test.<domain>, for the helm
test probes and the NOTES' commands: include "grpc-ingress.authority" "*.example.com" -> test.example.com
*/}}
{{- define "grpc-ingress.authority" -}}
{{- ternary (printf "test%s" (trimPrefix "*" .)) . (hasPrefix "*." .) -}}
{{- end -}}

{{/*
The name Istio gives a backend Service host, with the one fix Istio does not make:
include "grpc-ingress.serviceFqdn" (list HOST RELEASE_NAMESPACE CLUSTER_DOMAIN)
Istio expands a dot-free short name in the namespace of the resource that names it
(ResolveShortnameToFQDN in pilot/pkg/model/config.go: name -> name.<ns>.svc.<domain>) and takes
any host with a dot literally, so `name.ns` and `name.ns.svc` (what Kubernetes DNS resolves)
would name no Service and the gateway would answer 503. They are read as the Service name in
namespace ns: name.ns.svc.<clusterDomain>. Other dotted hosts (FQDNs, ServiceEntry hosts of
three or more labels) are kept.
*/}}
{{- define "grpc-ingress.serviceFqdn" -}}
{{- $host := index . 0 -}}
{{- $labels := splitList "." $host -}}
{{- if eq (len $labels) 1 -}}
{{- printf "%s.%s.svc.%s" $host (index . 1) (index . 2) -}}
{{- else if eq (len $labels) 2 -}}
{{- printf "%s.svc.%s" $host (index . 2) -}}
{{- else if and (eq (len $labels) 3) (eq (last $labels) "svc") -}}
{{- printf "%s.%s" $host (index . 2) -}}
{{- else -}}
{{- $host -}}
{{- end -}}
{{- end -}}

{{/*
Why a dotted backend host cannot be the Service it reads as, or "":
include "grpc-ingress.serviceHostProblem" (list KEY HOST CLUSTER_DOMAIN)
name.ns and name.ns.svc are read as Service `name` in namespace ns (grpc-ingress.serviceFqdn);
a Service name is a DNS-1035 label, so it starts with a letter.
*/}}
{{- define "grpc-ingress.serviceHostProblem" -}}
{{- $host := index . 1 -}}
{{- $labels := splitList "." $host -}}
{{- if or (eq (len $labels) 2) (and (eq (len $labels) 3) (eq (last $labels) "svc")) -}}{{- if not (regexMatch "^[a-z]" $host) -}}
{{- printf "%s: %s reads as Service %s in namespace %s (Istio takes a dotted host literally, so the chart writes it %s.%s.svc.%s), but a Service name starts with a letter; name the Service as <name>.<namespace>, or give the full host of a ServiceEntry" (index . 0) $host (first $labels) (index $labels 1) (first $labels) (index $labels 1) (index . 2) -}}
{{- end -}}{{- end -}}
{{- end -}}
