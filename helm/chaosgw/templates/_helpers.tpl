{{/* Names, labels and the pieces every component's pod shares. */}}

{{- define "chaosgw.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "chaosgw.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 40 | trimSuffix "-" -}}
{{- else if contains (include "chaosgw.name" .) .Release.Name -}}
{{- .Release.Name | trunc 40 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name (include "chaosgw.name" .) | trunc 40 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{/* Labels of every object; "component" is passed as .component. */}}
{{- define "chaosgw.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .root.Chart.Name .root.Chart.Version }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
{{ include "chaosgw.selectorLabels" . }}
{{- end -}}

{{- define "chaosgw.selectorLabels" -}}
app.kubernetes.io/name: {{ include "chaosgw.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "chaosgw.image" -}}
{{ printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end -}}

{{- define "chaosgw.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "chaosgw.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* Cluster-internal DNS names. */}}
{{- define "chaosgw.xdsService" -}}{{ include "chaosgw.fullname" . }}-xds{{- end -}}
{{- define "chaosgw.xdsAddress" -}}
{{- printf "%s.%s.svc:%d" (include "chaosgw.xdsService" .) .Release.Namespace (int .Values.controlPlane.xdsPort) -}}
{{- end -}}

{{/* Secret names. */}}
{{- define "chaosgw.generatedSecret" -}}{{ include "chaosgw.fullname" . }}-generated{{- end -}}
{{- define "chaosgw.secretsName" -}}
{{- default (include "chaosgw.generatedSecret" .) .Values.secrets.existingSecret -}}
{{- end -}}
{{- define "chaosgw.devUrlsSecret" -}}{{ include "chaosgw.fullname" . }}-dev-urls{{- end -}}
{{- define "chaosgw.databaseSecret" -}}
{{- default (include "chaosgw.devUrlsSecret" .) .Values.database.existingSecret -}}
{{- end -}}
{{- define "chaosgw.databaseKey" -}}
{{- if .Values.database.existingSecret }}{{ .Values.database.key }}{{ else }}database-url{{ end -}}
{{- end -}}
{{- define "chaosgw.redisSecret" -}}
{{- default (include "chaosgw.devUrlsSecret" .) .Values.redis.existingSecret -}}
{{- end -}}
{{- define "chaosgw.redisKey" -}}
{{- if .Values.redis.existingSecret }}{{ .Values.redis.key }}{{ else }}redis-url{{ end -}}
{{- end -}}

{{/* The TLS Secret of one identity (xds, extauthz, ratelimit, envoy-<group>): ca.crt, tls.crt,
tls.key, whether certgen or cert-manager made it. */}}
{{- define "chaosgw.tlsSecret" -}}{{ include "chaosgw.fullname" .root }}-{{ .identity }}-tls{{- end -}}
{{- define "chaosgw.tlsEnabled" -}}{{ if ne .Values.tls.mode "none" }}true{{ end }}{{- end -}}
{{- define "chaosgw.tlsDir" -}}/etc/chaosgw/tls{{- end -}}

{{/* Fails the render on values that would install something unsafe or broken. */}}
{{- define "chaosgw.validate" -}}
{{- $production := eq .Values.mode "production" -}}
{{- if and $production (not .Values.database.existingSecret) -}}
{{- fail "production mode needs database.existingSecret: the name of a Secret holding the PostgreSQL URL (key database.key)" -}}
{{- end -}}
{{- if and $production (not .Values.redis.existingSecret) -}}
{{- fail "production mode needs redis.existingSecret: the name of a Secret holding the Redis URL (key redis.key)" -}}
{{- end -}}
{{- if and (not .Values.database.existingSecret) (not .Values.database.url) -}}
{{- fail "database.existingSecret or (development mode) database.url must be set" -}}
{{- end -}}
{{- if and (not .Values.redis.existingSecret) (not .Values.redis.url) -}}
{{- fail "redis.existingSecret or (development mode) redis.url must be set" -}}
{{- end -}}
{{- if and $production (lt (int .Values.controlPlane.replicas) 2) -}}
{{- fail "production mode needs controlPlane.replicas >= 2" -}}
{{- end -}}
{{- if eq .Values.tls.mode "none" -}}
{{- if $production -}}
{{- fail "tls.mode none (plaintext xDS) is refused in production mode: use certgen or certManager" -}}
{{- end -}}
{{- if not .Values.tls.plaintextReason -}}
{{- fail "tls.mode none needs tls.plaintextReason: why the xDS port (which carries TLS keys and secrets) may be plaintext" -}}
{{- end -}}
{{- end -}}
{{- if le (int .Values.envoy.terminationGracePeriodSeconds) (add (int .Values.envoy.drainTimeSeconds) 5 | int) -}}
{{- fail "envoy.terminationGracePeriodSeconds must exceed envoy.drainTimeSeconds by more than 5 s, or the kubelet kills Envoy mid-drain" -}}
{{- end -}}
{{- end -}}

{{/* A headless Service's DNS name with every process's port: host:port,host:port+1,... */}}
{{- define "chaosgw.serviceEndpoints" -}}
{{- $host := printf "%s-%s.%s.svc" (include "chaosgw.fullname" .root) .name .root.Release.Namespace -}}
{{- $ports := list -}}
{{- range $i := until (int .values.processes) -}}
{{- $ports = append $ports (printf "%s:%d" $host (add $i $.values.grpcPort | int)) -}}
{{- end -}}
{{- join "," $ports -}}
{{- end -}}

{{/* Spread over nodes, and over zones where nodes carry zone labels. */}}
{{- define "chaosgw.topologySpread" -}}
{{- if .values.topologySpread }}
topologySpreadConstraints:
  - maxSkew: 1
    topologyKey: kubernetes.io/hostname
    whenUnsatisfiable: ScheduleAnyway
    labelSelector:
      matchLabels:
        {{- include "chaosgw.selectorLabels" . | nindent 8 }}
  - maxSkew: 1
    topologyKey: topology.kubernetes.io/zone
    whenUnsatisfiable: ScheduleAnyway
    labelSelector:
      matchLabels:
        {{- include "chaosgw.selectorLabels" . | nindent 8 }}
{{- end }}
{{- end -}}

{{/* Scheduling and security fields every pod of a component has. */}}
{{- define "chaosgw.podCommon" -}}
serviceAccountName: {{ include "chaosgw.serviceAccountName" .root }}
automountServiceAccountToken: false
securityContext:
  {{- toYaml .root.Values.podSecurityContext | nindent 2 }}
{{- with .root.Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .values.priorityClassName }}
priorityClassName: {{ . }}
{{- end }}
{{- with .values.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .values.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .values.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- include "chaosgw.topologySpread" . }}
{{- end -}}

{{/* The read-only root's one writable place, and the TLS mount of an identity. */}}
{{- define "chaosgw.volumes" -}}
volumes:
  - name: tmp
    emptyDir: {}
{{- if include "chaosgw.tlsEnabled" .root }}
  - name: tls
    secret:
      secretName: {{ include "chaosgw.tlsSecret" . }}
{{- end }}
{{- end -}}

{{- define "chaosgw.volumeMounts" -}}
volumeMounts:
  - name: tmp
    mountPath: /tmp
{{- if include "chaosgw.tlsEnabled" .root }}
  - name: tls
    mountPath: {{ include "chaosgw.tlsDir" .root }}
    readOnly: true
{{- end }}
{{- end -}}

{{- define "chaosgw.envSecret" -}}
- name: {{ .env }}
  valueFrom:
    secretKeyRef:
      name: {{ .secret }}
      key: {{ .key }}
{{- end -}}

{{/* A PodDisruptionBudget for one component. */}}
{{- define "chaosgw.pdb" -}}
{{- if .values.pdb.enabled }}
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  name: {{ include "chaosgw.fullname" .root }}-{{ .component }}
  labels:
    {{- include "chaosgw.labels" . | nindent 4 }}
spec:
  maxUnavailable: {{ .values.pdb.maxUnavailable }}
  selector:
    matchLabels:
      {{- include "chaosgw.selectorLabels" . | nindent 6 }}
{{- end }}
{{- end -}}

{{/* A CPU HorizontalPodAutoscaler for one component's Deployment. */}}
{{- define "chaosgw.hpa" -}}
{{- if .values.hpa.enabled }}
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  name: {{ include "chaosgw.fullname" .root }}-{{ .component }}
  labels:
    {{- include "chaosgw.labels" . | nindent 4 }}
spec:
  scaleTargetRef:
    apiVersion: apps/v1
    kind: Deployment
    name: {{ include "chaosgw.fullname" .root }}-{{ .component }}
  minReplicas: {{ .values.hpa.minReplicas }}
  maxReplicas: {{ .values.hpa.maxReplicas }}
  metrics:
    - type: Resource
      resource:
        name: cpu
        target:
          type: Utilization
          averageUtilization: {{ .values.hpa.targetCPUUtilizationPercentage }}
{{- end }}
{{- end -}}

{{/* Every TLS identity of the release: name, SAN URI, DNS names (servers only). */}}
{{- define "chaosgw.tlsIdentities" -}}
{{- $fullname := include "chaosgw.fullname" . -}}
{{- $ns := .Release.Namespace -}}
{{- $xds := include "chaosgw.xdsService" . -}}
- name: xds
  uri: spiffe://chaosgw/service/controlplane
  dnsNames: [{{ $xds }}, {{ $xds }}.{{ $ns }}, {{ $xds }}.{{ $ns }}.svc, {{ $xds }}.{{ $ns }}.svc.cluster.local]
- name: envoy-{{ .Values.envoy.group }}
  uri: spiffe://chaosgw/group/{{ .Values.envoy.group }}
  dnsNames: []
{{- range $service := list "extauthz" "ratelimit" }}
{{- if (index $.Values $service).enabled }}
{{- $host := printf "%s-%s" $fullname $service }}
- name: {{ $service }}
  uri: spiffe://chaosgw/service/{{ $service }}
  dnsNames: [{{ $host }}, {{ $host }}.{{ $ns }}, {{ $host }}.{{ $ns }}.svc, {{ $host }}.{{ $ns }}.svc.cluster.local]
{{- end }}
{{- end }}
{{- end -}}

{{/* A NetworkPolicy peer: the pods of one component of this release. */}}
{{- define "chaosgw.peer" -}}
- podSelector:
    matchLabels:
      {{- include "chaosgw.selectorLabels" . | nindent 6 }}
{{- end -}}
