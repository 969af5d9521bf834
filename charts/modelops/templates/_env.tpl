{{/*
The operator's settings as MODELOPS_OPERATOR_<FIELD> variables. operator/modelops_operator/settings.py
rejects unknown ones at start-up; tests/unit/test_chart.py feeds this list to that parser.
*/}}
{{- define "modelops.operatorEnv" -}}
{{- $op := .Values.operator }}
{{- $srv := .Values.serverDefaults -}}
- name: MODELOPS_OPERATOR_METRICS_PORT
  value: {{ $op.metricsPort | quote }}
- name: MODELOPS_OPERATOR_LOG_LEVEL
  value: {{ upper $op.logLevel | quote }}
- name: MODELOPS_OPERATOR_NAMESPACES
  value: {{ join "," $op.watchNamespaces | quote }}
- name: MODELOPS_OPERATOR_RESYNC_SECONDS
  value: {{ $op.resyncSeconds | quote }}
- name: MODELOPS_OPERATOR_REQUEUE_SECONDS
  value: {{ $op.requeueSeconds | quote }}
- name: MODELOPS_OPERATOR_WORKERS
  value: {{ $op.workers | quote }}
- name: MODELOPS_OPERATOR_DEFAULT_SERVER_IMAGE
  value: {{ include "modelops.image" $srv.image | quote }}
- name: MODELOPS_OPERATOR_DEFAULT_IMAGE_PULL_POLICY
  value: {{ $srv.image.pullPolicy | quote }}
- name: MODELOPS_OPERATOR_DEFAULT_STARTUP_SECONDS
  value: {{ $srv.startupSeconds | quote }}
- name: MODELOPS_OPERATOR_SERVER_GRPC_PORT
  value: {{ if $srv.grpc.enabled }}{{ $srv.grpc.port | quote }}{{ else }}"0"{{ end }}
- name: MODELOPS_OPERATOR_RESOURCES
  value: {{ $srv.resources | toJson | quote }}
- name: MODELOPS_OPERATOR_POLICY
  value: {{ .Values.policy | toJson | quote }}
{{- end }}
