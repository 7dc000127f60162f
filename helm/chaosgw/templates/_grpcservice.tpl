{{/* The auth or rate-limit service: Deployment, headless Service, HPA, PDB. .name is extauthz
or ratelimit, .values its values, .env its own settings beyond the common ones. */}}
{{- define "chaosgw.grpcService" -}}
{{- $root := .root }}
{{- $values := .values }}
{{- $prefix := printf "CHAOSGW_%s_" (upper .name) }}
{{- $ctx := dict "root" $root "component" .name "values" $values "identity" .name }}
{{- $fullname := include "chaosgw.fullname" $root }}
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ $fullname }}-{{ .name }}
  labels:
    {{- include "chaosgw.labels" $ctx | nindent 4 }}
spec:
  {{- if not $values.hpa.enabled }}
  replicas: {{ $values.replicas }}
  {{- end }}
  selector:
    matchLabels:
      {{- include "chaosgw.selectorLabels" $ctx | nindent 6 }}
  strategy:
    type: RollingUpdate
    rollingUpdate: { maxSurge: 1, maxUnavailable: 0 }
  template:
    metadata:
      labels:
        {{- include "chaosgw.selectorLabels" $ctx | nindent 8 }}
      {{- with $values.podAnnotations }}
      annotations:
        {{- toYaml . | nindent 8 }}
      {{- end }}
    spec:
      {{- include "chaosgw.podCommon" $ctx | nindent 6 }}
      containers:
        - name: {{ .name }}
          image: {{ include "chaosgw.image" $root }}
          imagePullPolicy: {{ $root.Values.image.pullPolicy }}
          args: [{{ .name }}]
          env:
            - name: {{ $prefix }}GRPC_HOST
              value: 0.0.0.0
            - name: {{ $prefix }}GRPC_PORT
              value: {{ $values.grpcPort | quote }}
            - name: {{ $prefix }}HTTP_PORT
              value: {{ $values.httpPort | quote }}
            # Scaling is by replicas; the headless Service names each process's port.
            - name: {{ $prefix }}PROCESSES
              value: {{ $values.processes | quote }}
            - name: {{ $prefix }}LOG_LEVEL
              value: {{ $values.logLevel }}
            - name: {{ $prefix }}XDS_ADDRESS
              value: {{ include "chaosgw.xdsAddress" $root }}
            - name: POD_NAME
              valueFrom:
                fieldRef: { fieldPath: metadata.name }
            - name: {{ $prefix }}NODE_ID
              value: $(POD_NAME)
            {{- if include "chaosgw.tlsEnabled" $root }}
            - name: {{ $prefix }}TLS_DIR
              value: {{ include "chaosgw.tlsDir" $root }}
            {{- end }}
            {{- .env | nindent 12 }}
          ports:
            {{- range $i := until (int $values.processes) }}
            - name: grpc-{{ $i }}
              containerPort: {{ add $values.grpcPort $i }}
            - name: http-{{ $i }}
              containerPort: {{ add $values.httpPort $i }}
            {{- end }}
          readinessProbe:
            httpGet: { path: /readyz, port: http-0 }
            periodSeconds: 5
            failureThreshold: 2
          livenessProbe:
            httpGet: { path: /livez, port: http-0 }
            periodSeconds: 10
            failureThreshold: 6
          securityContext:
            {{- toYaml $root.Values.securityContext | nindent 12 }}
          resources:
            {{- toYaml $values.resources | nindent 12 }}
          {{- include "chaosgw.volumeMounts" $ctx | nindent 10 }}
      {{- include "chaosgw.volumes" $ctx | nindent 6 }}
---
# Headless: Envoy resolves it (STRICT_DNS) to every ready pod, so replicas an HPA adds take
# requests and removed ones stop getting them.
apiVersion: v1
kind: Service
metadata:
  name: {{ $fullname }}-{{ .name }}
  labels:
    {{- include "chaosgw.labels" $ctx | nindent 4 }}
spec:
  clusterIP: None
  selector:
    {{- include "chaosgw.selectorLabels" $ctx | nindent 4 }}
  ports:
    {{- range $i := until (int $values.processes) }}
    - name: grpc-{{ $i }}
      port: {{ add $values.grpcPort $i }}
      targetPort: grpc-{{ $i }}
    - name: http-{{ $i }}
      port: {{ add $values.httpPort $i }}
      targetPort: http-{{ $i }}
    {{- end }}
{{- with (include "chaosgw.hpa" $ctx) }}
---
{{- . }}
{{- end }}
{{- with (include "chaosgw.pdb" $ctx) }}
---
{{- . }}
{{- end }}
{{- end -}}
