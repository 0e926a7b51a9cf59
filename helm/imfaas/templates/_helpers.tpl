{{/* The release's base name for every object: <release>-imfaas, or the release name itself when it already says imfaas. */}}
{{- define "imfaas.fullname" -}}
{{- if contains "imfaas" .Release.Name -}}
{{- .Release.Name | trunc 50 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-imfaas" .Release.Name | trunc 50 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "imfaas.labels" -}}
app.kubernetes.io/name: imfaas
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "imfaas.gatewaySelector" -}}
app.kubernetes.io/name: imfaas
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: gateway
{{- end -}}

{{/* The image of a component: (dict "root" $ "name" "send" "image" <optional override>). */}}
{{- define "imfaas.image" -}}
{{- $image := .image | default dict -}}
{{- $repository := $image.repository | default (printf "%s/imfaas-%s" .root.Values.image.registry .name) -}}
{{- $tag := $image.tag | default .root.Values.image.tag | default .root.Chart.AppVersion -}}
{{- printf "%s:%s" $repository $tag -}}
{{- end -}}

{{- define "imfaas.functionName" -}}
{{- printf "%s-%s" (include "imfaas.fullname" .root) .name -}}
{{- end -}}

{{- define "imfaas.envSecretName" -}}
{{- .Values.secrets.existingSecret | default (printf "%s-env" (include "imfaas.fullname" .)) -}}
{{- end -}}

{{- define "imfaas.jwtSecretName" -}}
{{- .Values.jwt.existingSecret | default (printf "%s-jwt" (include "imfaas.fullname" .)) -}}
{{- end -}}

{{- define "imfaas.publicWsUrl" -}}
{{- if .Values.gateway.publicWsUrl -}}
{{- .Values.gateway.publicWsUrl -}}
{{- else if .Values.gateway.ingress.enabled -}}
{{- printf "wss://%s/v1/ws" .Values.gateway.ingress.host -}}
{{- end -}}
{{- end -}}

{{/* Settings and credentials every component reads. */}}
{{- define "imfaas.envFrom" -}}
- configMapRef:
    name: {{ include "imfaas.fullname" . }}-config
- secretRef:
    name: {{ include "imfaas.envSecretName" . }}
{{- end -}}

{{- define "imfaas.tmpVolume" -}}
# Writable scratch (gunicorn's heartbeat files, the data dir) under a read-only root.
- name: tmp
  emptyDir:
    sizeLimit: 64Mi
{{- end -}}
