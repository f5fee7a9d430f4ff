{{/* Names, labels and checks shared by the templates of this chart. */}}

{{- define "monitoring.name" -}}
{{- .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* <release>-monitoring, or just <release> when it already contains the chart name. */}}
{{- define "monitoring.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "monitoring.selectorLabels" -}}
app.kubernetes.io/name: {{ include "monitoring.name" . }}-analytics
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "monitoring.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{ include "monitoring.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/part-of: livetranslate
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{- define "monitoring.image" -}}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion) -}}
{{- end -}}

{{/* More workers than audio-results' partitions (6) never get one and never become ready. */}}
{{- define "monitoring.validate" -}}
{{- if gt (int .Values.analytics.replicaCount) 6 -}}
{{- fail (printf "analytics.replicaCount %d exceeds audio-results' 6 partitions: the extra workers would sit idle" (int .Values.analytics.replicaCount)) -}}
{{- end -}}
{{- end -}}
