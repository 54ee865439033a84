{{/* Names and labels shared by every template. */}}
{{- define "gatehouse-agent.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "gatehouse-agent.fullname" -}}
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

{{- define "gatehouse-agent.selectorLabels" -}}
app.kubernetes.io/name: {{ include "gatehouse-agent.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "gatehouse-agent.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{ include "gatehouse-agent.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{- define "gatehouse-agent.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "gatehouse-agent.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* agent.yaml: the user's config with token.file and gateway.ca pointing at the volumes the chart mounts. */}}
{{- define "gatehouse-agent.config" -}}
{{- $config := deepCopy .Values.agent -}}
{{- $_ := set $config "token" (dict "file" "/var/run/secrets/gatehouse/token") -}}
{{- if or .Values.gatewayCa.secret .Values.gatewayCa.configMap -}}
{{- $_ := set $config.gateway "ca" "/etc/gatehouse-agent/ca/ca.crt" -}}
{{- end -}}
{{- toYaml $config -}}
{{- end -}}
