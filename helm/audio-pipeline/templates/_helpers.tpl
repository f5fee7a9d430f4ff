{{/* Names, labels and checks shared by the templates of this chart. */}}

{{- define "audio-pipeline.name" -}}
{{- .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* <release>-audio-pipeline, or just <release> when it already contains the chart name. */}}
{{- define "audio-pipeline.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "audio-pipeline.selectorLabels" -}}
app.kubernetes.io/name: {{ include "audio-pipeline.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "audio-pipeline.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{ include "audio-pipeline.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/part-of: livetranslate
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{- define "audio-pipeline.image" -}}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion) -}}
{{- end -}}

{{/*
More workers than partitions of audio-ingest never get a partition: they cost a node's
worth of CPU and memory, never become ready, and stall rollouts. Refuse them up front.
*/}}
{{- define "audio-pipeline.validate" -}}
{{- $partitions := int .Values.audioIngestPartitions -}}
{{- if gt (int .Values.replicaCount) $partitions -}}
{{- fail (printf "replicaCount %d exceeds audioIngestPartitions %d: the extra workers would sit idle" (int .Values.replicaCount) $partitions) -}}
{{- end -}}
{{- if and .Values.autoscaling.enabled (gt (int .Values.autoscaling.maxReplicas) $partitions) -}}
{{- fail (printf "autoscaling.maxReplicas %d exceeds audioIngestPartitions %d: the extra workers would sit idle" (int .Values.autoscaling.maxReplicas) $partitions) -}}
{{- end -}}
{{- end -}}
