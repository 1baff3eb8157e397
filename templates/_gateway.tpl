{{/*
The gateway install: which ingress gateway the output runs on, and its port model. Istio binds
a Gateway server to the gateway Service's targetPort for the server's port, and to the port
itself when the Service has no such port (resolvePorts in pilot/pkg/model/gateway.go); servers
on one bind port share one listener, and on a plaintext one the first server's protocol wins
(addPlainTextServer). So every port rule (_validate.tpl) is judged on bind ports, and the
gRPC-Web EnvoyFilter matches the bind port (listenerMatch in
pilot/pkg/networking/core/envoyfilter/listener_patch.go compares portNumber with the socket's).
*/}}

{{/*
Fill model.gateway: include "grpc-ingress.model.gateway" (list $ $model)   (first of all)
  install            istioctl, gateway-chart or custom (gateway.install)
  create             this chart renders the Gateway (gateway.create)
  service            the gateway Service's name ("" for custom), for messages and the test address
  workloadNamespace  namespace of the gateway pods (gateway.workloadNamespace, else the install's)
  selector           labels of the gateway pods (gateway.selector, else the install's)
  servicePorts       map Service port (as a string) -> targetPort (int): gateway.servicePorts,
                     else the install's; the ports clients can reach
  portList           "80→8080, 443→8443": servicePorts for messages
  testAddress        the gateway Service's in-cluster name for the helm test Pod ("" for custom
                     without tests.gatewayAddress)
  clusterDomain      the cluster's DNS domain (clusterDomain), for FQDNs
Facts of the stock installs: the classic istio-ingressgateway of istioctl (and
manifests/charts/gateways/istio-ingress) in istio-system, labels istio: ingressgateway, Service
ports 80->8080 and 443->8443; the istio/gateway chart (manifests/charts/gateway) installed as
Istio's docs do (`helm install istio-ingress istio/gateway -n istio-ingress`): labels
app: istio-ingress and istio: ingress (the release name without "istio-"), Service ports
80->80 and 443->443. Both also expose 15021 (status-port), which serves no Gateway server.
Defaults live here, not in values.yaml: Helm merges maps, so a default selector or port map in
values.yaml would be merged into the one a user sets.
*/}}
{{- define "grpc-ingress.model.gateway" -}}
{{- $root := index . 0 -}}
{{- $model := index . 1 -}}
{{- $values := $root.Values -}}
{{- $gateway := $values.gateway -}}
{{- $installs := dict
  "istioctl" (dict "service" "istio-ingressgateway" "namespace" "istio-system" "selector" (dict "istio" "ingressgateway") "ports" (dict "80" 8080 "443" 8443))
  "gateway-chart" (dict "service" "istio-ingress" "namespace" "istio-ingress" "selector" (dict "istio" "ingress") "ports" (dict "80" 80 "443" 443))
  "custom" (dict "service" "" "namespace" "" "selector" dict "ports" dict) -}}
{{- $install := get $installs $gateway.install -}}
{{- $ports := dict -}}
{{- range $port, $target := $gateway.servicePorts | default $install.ports -}}{{- $_ := set $ports $port (int $target) -}}{{- end -}}
{{- $portList := list -}}
{{- $padded := list -}}
{{- range $port, $_ := $ports -}}{{- $padded = append $padded (printf "%05s" $port) -}}{{- end -}}
{{- range $port := sortAlpha $padded -}}{{- $port = regexReplaceAll "^0+" $port "" -}}{{- $portList = append $portList (printf "%s→%d" $port (get $ports $port)) -}}{{- end -}}
{{- $namespace := $gateway.workloadNamespace | default $install.namespace -}}
{{- $clusterDomain := $values.clusterDomain -}}
{{- $testAddress := $values.tests.gatewayAddress -}}
{{- if and (not $testAddress) $install.service $namespace -}}
  {{- $testAddress = printf "%s.%s.svc.%s" $install.service $namespace $clusterDomain -}}
{{- end -}}
{{- $_ := set $model "gateway" (dict
  "install" $gateway.install
  "create" $gateway.create
  "service" $install.service
  "workloadNamespace" $namespace
  "selector" ($gateway.selector | default $install.selector)
  "servicePorts" $ports
  "portList" (join ", " $portList)
  "testAddress" $testAddress
  "stockPorts" (keys $install.ports | sortAlpha)
  "clusterDomain" $clusterDomain) -}}
{{- /* custom: the chart knows nothing of the gateway; every fact must be given. With api:
       gateway-api Istio deploys the pods and _gatewayapi.tpl answers these questions. */ -}}
{{- if and (eq $gateway.install "custom") (ne $values.api "gateway-api") -}}
  {{- $errors := list -}}
  {{- if not $gateway.selector -}}
    {{- $errors = append $errors "gateway.selector: gateway.install is custom, so the chart does not know your gateway pods' labels; give them (for example {istio: my-gateway})" -}}
  {{- end -}}
  {{- if not $gateway.workloadNamespace -}}
    {{- $errors = append $errors "gateway.workloadNamespace: gateway.install is custom, so the chart does not know where your gateway pods run; name their namespace" -}}
  {{- end -}}
  {{- if not $gateway.servicePorts -}}
    {{- $errors = append $errors "gateway.servicePorts: gateway.install is custom, so the chart does not know your gateway Service's ports; list them as {port: targetPort} (for example {\"80\": 8080, \"443\": 8443}; kubectl get svc -n <namespace> shows them)" -}}
  {{- end -}}
  {{- if and $values.tests.enabled (not $values.tests.gatewayAddress) -}}
    {{- $errors = append $errors "tests.gatewayAddress: gateway.install is custom, so the chart does not know your gateway Service for the helm test Pod; set it to <service>.<namespace>.svc.cluster.local, or set tests.enabled: false" -}}
  {{- end -}}
  {{- $_ := set $model "errors" (concat $model.errors $errors) -}}
{{- end -}}
{{- end -}}

{{/*
The pod port a Gateway server on a Service port binds: include "grpc-ingress.bindPort" (list $model PORT) | atoi
The Service's targetPort for that port, else the port itself (resolvePorts, legacy selector).
*/}}
{{- define "grpc-ingress.bindPort" -}}
{{- $ports := (index . 0).gateway.servicePorts -}}
{{- $port := index . 1 | int -}}
{{- get $ports (toString $port) | default $port -}}
{{- end -}}
