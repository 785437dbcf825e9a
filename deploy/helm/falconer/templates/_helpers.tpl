{{- define "falconer.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "falconer.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "falconer.selectorLabels" -}}
app.kubernetes.io/name: {{ include "falconer.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "falconer.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{ include "falconer.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: falconer
{{- end }}

{{- define "falconer.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "falconer.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* The chart-created Secret: holds whatever credential is not taken from an existing Secret. */}}
{{- define "falconer.secretName" -}}
{{- include "falconer.fullname" . }}
{{- end }}

{{- define "falconer.tlsSecretName" -}}
{{- default (printf "%s-tls" (include "falconer.fullname" .)) .Values.tls.secretName }}
{{- end }}

{{- define "falconer.scaleOut" -}}
{{- if eq .Values.mode "scale-out" }}true{{ end }}
{{- end }}

{{- define "falconer.image" -}}
{{- $tag := default .Chart.AppVersion .Values.image.tag }}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository $tag }}
{{- end }}
{{- end }}

{{/* Refuses values that cannot make a working release, with the value to set. */}}
{{- define "falconer.validate" -}}
{{- if not (has .Values.mode (list "embedded" "scale-out")) }}
{{- fail (printf "mode must be embedded or scale-out, got %q" .Values.mode) }}
{{- end }}
{{- if include "falconer.scaleOut" . }}
{{- if lt (int .Values.replicas) 1 }}
{{- fail "replicas must be at least 1" }}
{{- end }}
{{- if not .Values.kafka.brokers }}
{{- fail "scale-out needs kafka.brokers (host:port, ...): without a shared bus each replica keeps its own queue" }}
{{- end }}
{{- if not .Values.redis.url }}
{{- fail "scale-out needs redis.url (redis://host:6379): without shared state each replica posts the same alert" }}
{{- end }}
{{- end }}
{{- if and .Values.slack.enabled (not .Values.slack.channel) }}
{{- fail "slack.enabled needs slack.channel" }}
{{- end }}
{{- if and .Values.kafka.sasl.enabled (not .Values.kafka.sasl.username) }}
{{- fail "kafka.sasl.enabled needs kafka.sasl.username" }}
{{- end }}
{{- if and .Values.tls.certManager.enabled (not .Values.tls.certManager.issuerRef) }}
{{- fail "tls.certManager.enabled needs tls.certManager.issuerRef ({kind: ClusterIssuer, name: ...})" }}
{{- end }}
{{- if not (has .Values.persistence.type (list "pvc" "emptyDir")) }}
{{- fail (printf "persistence.type must be pvc or emptyDir, got %q" .Values.persistence.type) }}
{{- end }}
{{- end }}

{{/* falconer.yaml: what the values say, with .Values.config merged over it. No secrets. */}}
{{- define "falconer.config" -}}
{{- $c := dict "cluster" .Values.cluster }}
{{- $server := dict "port" (int .Values.port) }}
{{- if .Values.tls.enabled }}
{{- $tls := dict "certFile" "/etc/falconer/tls/tls.crt" "keyFile" "/etc/falconer/tls/tls.key" }}
{{- if .Values.tls.clientCa }}
{{- $_ := set $tls "clientCaFile" "/etc/falconer/tls/client-ca.crt" }}
{{- end }}
{{- $_ := set $server "tls" $tls }}
{{- end }}
{{- $_ := set $c "server" $server }}
{{- if include "falconer.scaleOut" . }}
{{- $kafka := dict "brokers" .Values.kafka.brokers "topic" .Values.kafka.topic "partitions" (int .Values.kafka.partitions) "groupId" .Values.kafka.groupId "tls" .Values.kafka.tls }}
{{- $_ := set $c "kafka" $kafka }}
{{- $_ := set $c "redis" (dict "url" .Values.redis.url "keyPrefix" .Values.redis.keyPrefix "tls" .Values.redis.tls) }}
{{- end }}
{{- if .Values.enrichment.live }}
{{- $_ := set $c "enrichment" (dict "live" (dict "source" "in-cluster")) }}
{{- end }}
{{- if .Values.slack.enabled }}
{{- $_ := set $c "receivers" (list (dict "type" "slack" "name" "slack" "channel" .Values.slack.channel "minPriority" .Values.slack.minPriority)) }}
{{- end }}
{{- if .Values.rules.files }}
{{- $_ := set $c "rules" (dict "dirs" (list "/etc/falconer/rules")) }}
{{- end }}
{{- toYaml (mustMergeOverwrite $c (deepCopy (.Values.config | default dict))) }}
{{- end }}
