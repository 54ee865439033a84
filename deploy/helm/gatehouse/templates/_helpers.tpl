{{/* Names and labels shared by every template. */}}
{{- define "gatehouse.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "gatehouse.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "gatehouse.selectorLabels" -}}
app.kubernetes.io/name: {{ include "gatehouse.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "gatehouse.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{ include "gatehouse.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{- define "gatehouse.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "gatehouse.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* gatehouse.yaml: the user's config with `listen` (and `postgres.tls` when a TLS Secret is given) set from values. */}}
{{- define "gatehouse.config" -}}
{{- $config := deepCopy .Values.config -}}
{{- $listen := dict "http" (printf "0.0.0.0:%v" .Values.ports.http) "postgres" (printf "0.0.0.0:%v" .Values.ports.postgres) "admin" (printf "0.0.0.0:%v" .Values.ports.admin) -}}
{{- if .Values.mcpListener.enabled -}}
{{- $_ := set $listen "mcp" (printf "0.0.0.0:%v" .Values.ports.mcp) -}}
{{- end -}}
{{- $_ := set $config "listen" $listen -}}
{{- if .Values.postgresTls.existingSecret -}}
{{- $postgres := default dict (get $config "postgres") -}}
{{- $_ := set $postgres "tls" (dict "cert" "/etc/gatehouse/tls/tls.crt" "key" "/etc/gatehouse/tls/tls.key") -}}
{{- $_ := set $config "postgres" $postgres -}}
{{- end -}}
{{- if .Values.agentsListener.enabled -}}
{{- $agents := default dict (get $config "agents") -}}
{{- $_ := set $agents "listen" (printf "0.0.0.0:%v" .Values.ports.agents) -}}
{{- $_ := set $agents "tls" (dict "cert" "/etc/gatehouse/agents-tls/tls.crt" "key" "/etc/gatehouse/agents-tls/tls.key") -}}
{{- $_ := set $config "agents" $agents -}}
{{- end -}}
{{- toYaml $config -}}
{{- end -}}
