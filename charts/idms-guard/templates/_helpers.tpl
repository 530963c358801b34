{{/*
Every name the chart uses is defined here (resource names, label keys, paths, mount
points), so templates and tests agree on them. Templates call these with the root context.
*/}}

{{/* ---------- names ---------- */}}

{{- define "idms-guard.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The release's full name; Kubernetes names are at most 63 characters. */}}
{{- define "idms-guard.fullname" -}}
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

{{/* fullname-SUFFIX, shortened so that the whole stays within 63 characters.
Call with (list $ "suffix"). */}}
{{- define "idms-guard.suffixed" -}}
{{- $root := index . 0 }}
{{- $suffix := index . 1 }}
{{- $base := include "idms-guard.fullname" $root | trunc (int (sub 62 (len $suffix))) | trimSuffix "-" }}
{{- printf "%s-%s" $base $suffix }}
{{- end }}

{{- define "idms-guard.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "idms-guard.serviceName" -}}
{{- include "idms-guard.fullname" . }}
{{- end }}

{{/* The name the API server checks in the serving certificate. */}}
{{- define "idms-guard.serviceDNSName" -}}
{{- printf "%s.%s.svc" (include "idms-guard.serviceName" .) .Release.Namespace }}
{{- end }}

{{- define "idms-guard.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "idms-guard.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "idms-guard.clusterRoleName" -}}
{{- include "idms-guard.fullname" . }}
{{- end }}

{{/* Validating- and MutatingWebhookConfiguration (cluster-scoped: the release name keeps
two installs apart). */}}
{{- define "idms-guard.webhookConfigurationName" -}}
{{- include "idms-guard.fullname" . }}
{{- end }}

{{/* The Secret holding tls.crt and tls.key (and ca.crt in helm and cert-manager modes). */}}
{{- define "idms-guard.tlsSecretName" -}}
{{- if eq .Values.certificates.mode "secret" }}
{{- required "certificates.secret.name is required when certificates.mode is secret" .Values.certificates.secret.name }}
{{- else }}
{{- include "idms-guard.suffixed" (list . "tls") }}
{{- end }}
{{- end }}

{{/* secret mode: the CA from certificates.secret.caBundle, for the ServiceMonitor. */}}
{{- define "idms-guard.caConfigMapName" -}}
{{- include "idms-guard.suffixed" (list . "ca") }}
{{- end }}

{{/* openshift mode: a ConfigMap into which the service-ca operator injects its CA. */}}
{{- define "idms-guard.serviceCAConfigMapName" -}}
{{- include "idms-guard.suffixed" (list . "service-ca") }}
{{- end }}

{{- define "idms-guard.certManager.selfSignedIssuerName" -}}
{{- include "idms-guard.suffixed" (list . "selfsigned") }}
{{- end }}

{{- define "idms-guard.certManager.caName" -}}
{{- include "idms-guard.suffixed" (list . "ca") }}
{{- end }}

{{- define "idms-guard.certManager.certificateName" -}}
{{- include "idms-guard.suffixed" (list . "tls") }}
{{- end }}

{{- define "idms-guard.mirrorSetsConfigMapName" -}}
{{- if .Values.mirrorSets.existingConfigMap }}
{{- .Values.mirrorSets.existingConfigMap }}
{{- else }}
{{- include "idms-guard.suffixed" (list . "mirror-sets") }}
{{- end }}
{{- end }}

{{- define "idms-guard.registryCAConfigMapName" -}}
{{- if .Values.registry.ca.openshiftTrustedBundle }}
{{- include "idms-guard.suffixed" (list . "trusted-ca") }}
{{- else }}
{{- .Values.registry.ca.configMapName }}
{{- end }}
{{- end }}

{{- define "idms-guard.testPodName" -}}
{{- include "idms-guard.suffixed" (list . "test") }}
{{- end }}

{{/* The namespace `helm test` dry-runs a pod in: tests.namespace, or <fullname>-helm-test. */}}
{{- define "idms-guard.testNamespaceName" -}}
{{- default (include "idms-guard.suffixed" (list . "helm-test")) .Values.tests.namespace }}
{{- end }}

{{- define "idms-guard.testServiceAccountName" -}}
{{- include "idms-guard.suffixed" (list . "helm-test") }}
{{- end }}

{{/* The image of the dry-run pod: a tag on a registry no mirror set names (.invalid is
reserved), so the webhook always has a warning to give. */}}
{{- define "idms-guard.testProbeImage" -}}helm-test.idms-guard.invalid/probe:1.0{{- end }}

{{/* ---------- labels ---------- */}}

{{/* The namespace labels that select the webhook entries. */}}
{{- define "idms-guard.modeLabel" -}}idms-guard.io/mode{{- end }}
{{- define "idms-guard.pinLabel" -}}idms-guard.io/pin-digests{{- end }}

{{- define "idms-guard.selectorLabels" -}}
app.kubernetes.io/name: {{ include "idms-guard.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: webhook
{{- end }}

{{/* Labels of every object except the pods' selectors (those are selectorLabels). */}}
{{- define "idms-guard.labels" -}}
helm.sh/chart: {{ include "idms-guard.chart" . }}
app.kubernetes.io/name: {{ include "idms-guard.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: idms-guard
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* ---------- the container ---------- */}}

{{- define "idms-guard.image" -}}
{{- $repository := printf "%s/%s" .Values.image.registry .Values.image.repository | trimPrefix "/" }}
{{- if .Values.image.digest }}
{{- printf "%s@%s" $repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" $repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{/* Where the app listens (idms-guard serve --port) and the paths it serves. */}}
{{- define "idms-guard.containerPort" -}}8443{{- end }}
{{- define "idms-guard.validatePath" -}}/validate/{{ . }}{{- end }}
{{- define "idms-guard.mutatePath" -}}/mutate{{- end }}
{{- define "idms-guard.livenessPath" -}}/healthz{{- end }}
{{- define "idms-guard.readinessPath" -}}/readyz{{- end }}
{{- define "idms-guard.metricsPath" -}}/metrics{{- end }}

{{/* Mount points inside the container. */}}
{{- define "idms-guard.tlsDir" -}}/etc/idms-guard/tls{{- end }}
{{- define "idms-guard.registryAuthDir" -}}/etc/idms-guard/registry-auth{{- end }}
{{- define "idms-guard.registryCADir" -}}/etc/idms-guard/registry-ca{{- end }}
{{- define "idms-guard.mirrorSetsDir" -}}/etc/idms-guard/mirror-sets{{- end }}
{{- define "idms-guard.homeDir" -}}/home/idms-guard{{- end }}
{{- define "idms-guard.nodeConfigDir" -}}/etc/idms-guard/node-config{{- end }}

{{- define "idms-guard.staticMirrorSets" -}}
{{- if or .Values.mirrorSets.existingConfigMap .Values.mirrorSets.objects }}true{{ end }}
{{- end }}

{{/* "true" when the webhook talks to the Kubernetes API (a token is mounted, RBAC bound). */}}
{{- define "idms-guard.needsAPI" -}}
{{- if or .Values.mirrorSets.watchCluster .Values.registry.podPullSecrets }}true{{ end }}
{{- end }}

{{- define "idms-guard.registryCA" -}}
{{- if or .Values.registry.ca.openshiftTrustedBundle .Values.registry.ca.configMapName }}true{{ end }}
{{- end }}

{{/* The pods' priorityClassName: the value; null: system-cluster-critical when enforce
fails closed (an evicted or unschedulable webhook then blocks pods), else none. */}}
{{- define "idms-guard.priorityClassName" -}}
{{- if kindIs "string" .Values.priorityClassName }}
{{- .Values.priorityClassName }}
{{- else if and .Values.webhooks.enforce.enabled (eq .Values.webhooks.enforce.failurePolicy "Fail") -}}
system-cluster-critical
{{- end }}
{{- end }}

{{/* IDMS_GUARD_FAIL_CLOSED: the value, or whether enforce fails closed. */}}
{{- define "idms-guard.failClosed" -}}
{{- if kindIs "bool" .Values.policy.failClosed }}
{{- .Values.policy.failClosed }}
{{- else }}
{{- eq .Values.webhooks.enforce.failurePolicy "Fail" }}
{{- end }}
{{- end }}

{{/* ---------- the webhook configurations ---------- */}}

{{/* "true" when DeploymentConfigs are checked. auto: the cluster serves
apps.openshift.io/v1, or the values say OpenShift (its certificate mode or trusted CA
bundle), so that a GitOps render without --api-versions does not drop them. */}}
{{- define "idms-guard.deploymentConfigs" -}}
{{- $setting := toString .Values.openshift.deploymentConfigs }}
{{- if eq $setting "true" }}true
{{- else if and (eq $setting "auto") (or (.Capabilities.APIVersions.Has "apps.openshift.io/v1") (include "idms-guard.openshiftSelected" .)) }}true
{{- end }}
{{- end }}

{{/* "true" when the webhook may read MachineConfigPools and MachineConfigs (what each
pool's nodes run). auto: the cluster serves machineconfiguration.openshift.io/v1, or the
values say OpenShift. */}}
{{- define "idms-guard.machineConfigPools" -}}
{{- $setting := toString .Values.openshift.machineConfigPools }}
{{- if eq $setting "true" }}true
{{- else if and (eq $setting "auto") (or (.Capabilities.APIVersions.Has "machineconfiguration.openshift.io/v1") (include "idms-guard.openshiftSelected" .)) }}true
{{- end }}
{{- end }}

{{/* "true" when the values choose something only OpenShift has. */}}
{{- define "idms-guard.openshiftSelected" -}}
{{- if or (eq .Values.certificates.mode "openshift") .Values.registry.ca.openshiftTrustedBundle }}true{{ end }}
{{- end }}

{{/* "true" when matchConditions are rendered: beta and on by default from Kubernetes 1.28
(OpenShift 4.15), GA in 1.30. */}}
{{- define "idms-guard.matchConditions" -}}
{{- $setting := toString .Values.webhooks.matchConditions }}
{{- if eq $setting "true" }}true
{{- else if and (eq $setting "auto") (semverCompare ">=1.28.0-0" .Capabilities.KubeVersion.Version) }}true
{{- end }}
{{- end }}

{{/* The resources whose images are checked (and pinned): pods, their ephemeral
containers, and every pod template. matchPolicy Equivalent covers the other versions. */}}
{{- define "idms-guard.rules" -}}
- apiGroups: [""]
  apiVersions: ["v1"]
  operations: ["CREATE", "UPDATE"]
  resources: ["pods", "replicationcontrollers"]
  scope: Namespaced
- apiGroups: [""]
  apiVersions: ["v1"]
  operations: ["UPDATE"]
  resources: ["pods/ephemeralcontainers"]
  scope: Namespaced
- apiGroups: ["apps"]
  apiVersions: ["v1"]
  operations: ["CREATE", "UPDATE"]
  resources: ["deployments", "replicasets", "statefulsets", "daemonsets"]
  scope: Namespaced
- apiGroups: ["batch"]
  apiVersions: ["v1"]
  operations: ["CREATE", "UPDATE"]
  resources: ["jobs", "cronjobs"]
  scope: Namespaced
{{- if include "idms-guard.deploymentConfigs" . }}
- apiGroups: ["apps.openshift.io"]
  apiVersions: ["v1"]
  operations: ["CREATE", "UPDATE"]
  resources: ["deploymentconfigs"]
  scope: Namespaced
{{- end }}
{{- end }}

{{/* Namespaces never sent to the webhook, by their immutable name label. */}}
{{- define "idms-guard.excludedNamespacesExpression" -}}
- key: kubernetes.io/metadata.name
  operator: NotIn
  values:
    {{- range uniq (prepend .Values.webhooks.excludeNamespaces .Release.Namespace) }}
    - {{ . | quote }}
    {{- end }}
{{- end }}

{{/* matchConditions of every entry (all must hold for the API server to call the webhook).
A CEL error counts as "call it" only under Ignore; under Fail it rejects the request, so
every field that may be absent is tested with has() before it is read. */}}
{{- define "idms-guard.matchConditionsBlock" -}}
{{- if include "idms-guard.matchConditions" . -}}
{{- $conditions := list }}
{{- with .Values.webhooks.excludeNamespacePrefixes }}
{{- $conditions = append $conditions (dict "name" "exclude-namespace-prefixes" "expression" (include "idms-guard.prefixExpression" $)) }}
{{- end }}
{{- $conditions = append $conditions (dict "name" "pod-spec-may-change" "expression" (include "idms-guard.podSpecChangeExpression" .)) }}
{{- $names := list }}
{{- range $conditions }}{{ $names = append $names .name }}{{ end }}
{{- range .Values.webhooks.extraMatchConditions }}
{{- if has .name $names }}
{{- fail (printf "webhooks.extraMatchConditions: the name %q is taken (the chart's own: exclude-namespace-prefixes, pod-spec-may-change; names must be unique)" .name) }}
{{- end }}
{{- $names = append $names .name }}
{{- $conditions = append $conditions (dict "name" .name "expression" .expression) }}
{{- end -}}
matchConditions:
  {{- range $conditions }}
  - name: {{ .name }}
    expression: {{ .expression | quote }}
  {{- end }}
{{- else if .Values.webhooks.extraMatchConditions }}
{{- fail (printf "webhooks.extraMatchConditions needs matchConditions, which this render leaves out (webhooks.matchConditions=%v, Kubernetes %s; they need 1.28+)" .Values.webhooks.matchConditions .Capabilities.KubeVersion.Version) }}
{{- end }}
{{- end }}

{{/* Call the webhook unless the request is an UPDATE (not of pods/ephemeralcontainers)
that leaves the pod spec, where every image is, as it was: a label, an annotation, a
finalizer removed, a scale by edit. The path of the pod spec depends on the resource. */}}
{{- define "idms-guard.podSpecChangeExpression" -}}
{{- $pod := list "spec" }}
{{- $template := list "spec" "template" "spec" }}
{{- $cronJob := list "spec" "jobTemplate" "spec" "template" "spec" }}
{{- printf "request.operation != 'UPDATE' || (has(request.subResource) && request.subResource == 'ephemeralcontainers') || oldObject == null || !(request.resource.resource == 'pods' ? %s : request.resource.resource == 'cronjobs' ? %s : %s)" (include "idms-guard.sameAt" $pod) (include "idms-guard.sameAt" $cronJob) (include "idms-guard.sameAt" $template) }}
{{- end }}

{{/* CEL: object and oldObject both have the field at this path (a list of keys), and it is
equal in both. has() at every step: a missing step is "not the same", never an error. */}}
{{- define "idms-guard.sameAt" -}}
{{- $tests := list }}
{{- range $side := list "object" "oldObject" }}
{{- $path := $side }}
{{- range $ }}
{{- $path = printf "%s.%s" $path . }}
{{- $tests = append $tests (printf "has(%s)" $path) }}
{{- end }}
{{- end }}
{{- $field := join "." . }}
{{- printf "(%s && object.%s == oldObject.%s)" (join " && " $tests) $field $field }}
{{- end }}

{{- define "idms-guard.prefixExpression" -}}
{{- $tests := list }}
{{- range .Values.webhooks.excludeNamespacePrefixes }}
{{- $tests = append $tests (printf "request.namespace.startsWith('%s')" .) }}
{{- end }}
{{- printf "!(%s)" (join " || " $tests) }}
{{- end }}

{{/* clientConfig of one entry. Call with (list $ "/path"). */}}
{{- define "idms-guard.clientConfig" -}}
{{- $root := index . 0 -}}
service:
  name: {{ include "idms-guard.serviceName" $root }}
  namespace: {{ $root.Release.Namespace }}
  path: {{ index . 1 }}
  port: {{ $root.Values.service.port }}
{{- with include "idms-guard.caBundle" $root }}
caBundle: {{ . }}
{{- end }}
{{- end }}

{{/* Annotations that make cert-manager or OpenShift's service-ca fill the caBundle. */}}
{{- define "idms-guard.webhookAnnotations" -}}
{{- $annotations := deepCopy .Values.webhooks.annotations }}
{{- if eq .Values.certificates.mode "cert-manager" }}
{{- $_ := set $annotations "cert-manager.io/inject-ca-from" (printf "%s/%s" .Release.Namespace (include "idms-guard.certManager.certificateName" .)) }}
{{- else if eq .Values.certificates.mode "openshift" }}
{{- $_ := set $annotations "service.beta.openshift.io/inject-cabundle" "true" }}
{{- end }}
{{- with $annotations }}{{ toYaml . }}{{ end }}
{{- end }}

{{/* ---------- certificates ---------- */}}

{{/* helm mode: make the CA and serving certificate once, and keep those of the Secret
already installed on later renders; rotate once per new certificates.helm.rotationToken
(recorded on the Secret, so an upgrade that reuses the value does not rotate again).
The Secret also holds the next CA (ready, already trusted) and, after a rotation, the
previous one; the caBundle trusts all three. So the bundle of every revision trusts the
certificate served one rotation before and one after it: pods still serving the old
certificate after an upgrade, and pods still serving the new one after a `helm rollback`
across the rotation, are trusted until kubelet refreshes the mounted Secret.
Stored on the root context, because the Secret and both webhook configurations must
carry the same CA. */}}
{{- define "idms-guard.generatedTLS" -}}
{{- if not (hasKey . "idmsGuardGeneratedTLS") }}
{{- $token := toString .Values.certificates.helm.rotationToken }}
{{- $tokenKey := include "idms-guard.rotationTokenAnnotation" . }}
{{- $data := dict }}
{{- $recorded := "" }}
{{- $existing := lookup "v1" "Secret" .Release.Namespace (include "idms-guard.tlsSecretName" .) }}
{{- $found := dict }}
{{- if $existing }}
{{- $found = default dict $existing.data }}
{{- $recorded = index (default dict $existing.metadata.annotations) $tokenKey | default "" }}
{{- end }}
{{- $complete := and (hasKey $found "ca.crt") (hasKey $found "tls.crt") (hasKey $found "tls.key") }}
{{- $rotate := and $complete $token (ne $token $recorded) }}
{{- if and $complete (not $rotate) }}
{{- $data = pick $found "ca.crt" "tls.crt" "tls.key" "next-ca.crt" "next-ca.key" "previous-ca.crt" }}
{{- else }}
{{- $ca := dict }}
{{- if and $rotate (hasKey $found "next-ca.crt") (hasKey $found "next-ca.key") }}
{{- $ca = buildCustomCert (index $found "next-ca.crt") (index $found "next-ca.key") }}
{{- else }}
{{- $ca = genCA (printf "%s-ca" (include "idms-guard.fullname" .)) (int .Values.certificates.helm.caDays) }}
{{- end }}
{{- $names := list (include "idms-guard.serviceDNSName" .) (printf "%s.cluster.local" (include "idms-guard.serviceDNSName" .)) }}
{{- $cert := genSignedCert (include "idms-guard.serviceDNSName" .) nil $names (int .Values.certificates.helm.days) $ca }}
{{- $data = dict "ca.crt" (b64enc $ca.Cert) "tls.crt" (b64enc $cert.Cert) "tls.key" (b64enc $cert.Key) }}
{{- if $rotate }}
{{- $_ := set $data "previous-ca.crt" (index $found "ca.crt") }}
{{- end }}
{{- end }}
{{- if not (and (hasKey $data "next-ca.crt") (hasKey $data "next-ca.key")) }}
{{- $next := genCA (printf "%s-ca" (include "idms-guard.fullname" .)) (int .Values.certificates.helm.caDays) }}
{{- $_ := set $data "next-ca.crt" (b64enc $next.Cert) }}
{{- $_ := set $data "next-ca.key" (b64enc $next.Key) }}
{{- end }}
{{- $bundle := "" }}
{{- range $key := list "ca.crt" "previous-ca.crt" "next-ca.crt" }}
{{- with index $data $key }}
{{- $bundle = printf "%s%s\n" $bundle (b64dec . | trim) }}
{{- end }}
{{- end }}
{{- $annotations := dict }}
{{- with (ternary $token $recorded (or $rotate (not $complete))) }}
{{- $_ := set $annotations $tokenKey . }}
{{- end }}
{{- $_ := set . "idmsGuardGeneratedTLS" (dict "data" $data "caBundle" (b64enc $bundle) "annotations" $annotations) }}
{{- end }}
{{- end }}

{{/* The Secret annotation that records the rotation token its certificate was made for. */}}
{{- define "idms-guard.rotationTokenAnnotation" -}}idms-guard.io/rotation-token{{- end }}

{{/* The base64 caBundle of the webhook configurations; empty when an injector fills it. */}}
{{- define "idms-guard.caBundle" -}}
{{- $mode := .Values.certificates.mode }}
{{- if eq $mode "helm" }}
{{- include "idms-guard.generatedTLS" . }}
{{- (get . "idmsGuardGeneratedTLS").caBundle }}
{{- else if eq $mode "secret" }}
{{- if .Values.certificates.secret.caBundle }}
{{- .Values.certificates.secret.caBundle }}
{{- else }}
{{- $existing := lookup "v1" "Secret" .Release.Namespace (include "idms-guard.tlsSecretName" .) }}
{{- $ca := "" }}
{{- if $existing }}{{ $ca = index (default dict $existing.data) "ca.crt" | default "" }}{{ end }}
{{- required (printf "certificates.secret.caBundle is required: Secret %s/%s has no ca.crt (or could not be read; helm template cannot read it)" .Release.Namespace (include "idms-guard.tlsSecretName" .)) $ca }}
{{- end }}
{{- end }}
{{- end }}

{{/* Where a client finds the CA that signed the serving certificate (the
ServiceMonitor): {kind: secret|configMap, name, key}. */}}
{{- define "idms-guard.caRef" -}}
{{- $mode := .Values.certificates.mode }}
{{- if eq $mode "secret" }}
kind: configMap
name: {{ include "idms-guard.caConfigMapName" . }}
key: ca.crt
{{- else if eq $mode "openshift" }}
kind: configMap
name: {{ include "idms-guard.serviceCAConfigMapName" . }}
key: service-ca.crt
{{- else }}
kind: secret
name: {{ include "idms-guard.tlsSecretName" . }}
key: ca.crt
{{- end }}
{{- end }}

{{/* Seconds gunicorn lets requests in flight finish after SIGTERM
(webhook/gunicorn_config.py GRACEFUL_TIMEOUT_SECONDS; a test keeps them equal). */}}
{{- define "idms-guard.gracefulTimeoutSeconds" -}}20{{- end }}

{{/* ---------- checks of values that the schema cannot express ---------- */}}
{{- define "idms-guard.validateValues" -}}
{{- $lookup := float64 .Values.pinning.lookupTimeoutSeconds }}
{{- if le $lookup 0.0 }}
{{- fail (printf "pinning.lookupTimeoutSeconds (%v) must be above 0" .Values.pinning.lookupTimeoutSeconds) }}
{{- end }}
{{- $graceful := int (include "idms-guard.gracefulTimeoutSeconds" .) }}
{{- $shutdown := add (int .Values.preStopSleepSeconds) $graceful }}
{{- if gt $shutdown (int .Values.terminationGracePeriodSeconds) }}
{{- fail (printf "terminationGracePeriodSeconds (%v) is shorter than preStopSleepSeconds (%v) plus gunicorn's %d s graceful shutdown: kubelet would kill the webhook while it still answers admissions. Set terminationGracePeriodSeconds to at least %d, or lower preStopSleepSeconds" .Values.terminationGracePeriodSeconds .Values.preStopSleepSeconds $graceful $shutdown) }}
{{- end }}
{{- if and (eq (int .Values.replicaCount) 0) .Values.webhooks.enforce.enabled (eq .Values.webhooks.enforce.failurePolicy "Fail") }}
{{- fail "replicaCount is 0 while webhooks.enforce.failurePolicy is Fail: the API server would reject every pod and workload change in enforce namespaces. Keep at least one replica (two for drains), or set the failurePolicy to Ignore" }}
{{- end }}
{{- if .Values.securityContext.privileged }}
{{- fail "securityContext.privileged is true: the webhook needs no privilege, and a privileged container fails OpenShift's restricted-v2 SCC and the restricted Pod Security Standard. Remove it" }}
{{- end }}
{{- if gt $lookup 29.0 }}
{{- fail (printf "pinning.lookupTimeoutSeconds (%v) must be at most 29" .Values.pinning.lookupTimeoutSeconds) }}
{{- end }}
{{- if ge $lookup (float64 .Values.webhooks.timeoutSeconds) }}
{{- fail (printf "pinning.lookupTimeoutSeconds (%v) must be below webhooks.timeoutSeconds (%v)" .Values.pinning.lookupTimeoutSeconds .Values.webhooks.timeoutSeconds) }}
{{- end }}
{{- if and .Values.pinning.enabled (ge $lookup (float64 .Values.pinning.timeoutSeconds)) }}
{{- fail (printf "pinning.lookupTimeoutSeconds (%v) must be below pinning.timeoutSeconds (%v)" .Values.pinning.lookupTimeoutSeconds .Values.pinning.timeoutSeconds) }}
{{- end }}
{{- if .Values.certificates.helm.rotate }}
{{- fail "certificates.helm.rotate is replaced by certificates.helm.rotationToken (rotate=true rotated again on every upgrade that reused it): set certificates.helm.rotationToken to a new value, e.g. today's date, to rotate once" }}
{{- end }}
{{- if and .Values.registry.ca.openshiftTrustedBundle .Values.registry.ca.configMapName }}
{{- fail "registry.ca.configMapName and registry.ca.openshiftTrustedBundle exclude each other" }}
{{- end }}
{{- if not (or .Values.mirrorSets.watchCluster (include "idms-guard.staticMirrorSets" .)) }}
{{- fail "mirrorSets.watchCluster is false: set mirrorSets.objects or mirrorSets.existingConfigMap, or the webhook has no mirror sets to judge by" }}
{{- end }}
{{- if and .Values.mirrorSets.existingConfigMap .Values.mirrorSets.objects }}
{{- fail "mirrorSets.existingConfigMap and mirrorSets.objects exclude each other" }}
{{- end }}
{{- if .Values.tests.enabled }}
{{- include "idms-guard.validateTestNamespace" . }}
{{- end }}
{{- if not (or .Values.webhooks.enforce.enabled .Values.webhooks.warn.enabled .Values.webhooks.audit.enabled .Values.pinning.enabled) }}
{{- fail "every webhook entry is disabled: enable at least one of webhooks.enforce, webhooks.warn, webhooks.audit, pinning" }}
{{- end }}
{{- end }}

{{/* The test namespace must reach the warn entry: not excluded by the webhook
configurations, not exempted by the webhook itself. */}}
{{- define "idms-guard.validateTestNamespace" -}}
{{- $namespace := include "idms-guard.testNamespaceName" . }}
{{- if not .Values.webhooks.warn.enabled }}
{{- fail "tests.enabled needs webhooks.warn.enabled: helm test expects the warning the warn entry gives through the API server. Enable it, or set tests.enabled=false" }}
{{- end }}
{{- $why := "" }}
{{- if eq $namespace .Release.Namespace }}{{ $why = "it is the release namespace" }}{{ end }}
{{- if has $namespace .Values.webhooks.excludeNamespaces }}{{ $why = "webhooks.excludeNamespaces lists it" }}{{ end }}
{{- range .Values.webhooks.excludeNamespacePrefixes }}
{{- if hasPrefix . $namespace }}{{ $why = printf "it starts with %q (webhooks.excludeNamespacePrefixes)" . }}{{ end }}
{{- end }}
{{- range .Values.policy.exemptNamespaces }}
{{- $pattern := printf "^%s$" (regexQuoteMeta . | replace "\\*" ".*" | replace "\\?" ".") }}
{{- if regexMatch $pattern $namespace }}{{ $why = printf "it matches %q (policy.exemptNamespaces)" . }}{{ end }}
{{- end }}
{{- if $why }}
{{- fail (printf "the helm test namespace %q is never checked, because %s: set tests.namespace to another name, or tests.enabled=false" $namespace $why) }}
{{- end }}
{{- end }}
