package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const (
	repoManifests = "../../deploy/k8s"
	repoExample   = "../../examples/fraud/fraud.yaml"
)

func TestRepoManifests(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := run([]string{"-dir", repoManifests, "-example", repoExample}, &out, &errOut); code != 0 {
		t.Fatalf("got exit %d, want 0:\n%s%s", code, out.String(), errOut.String())
	}
	if got := out.String(); got != "manifests=ok\n" {
		t.Fatalf("got %q, want %q", got, "manifests=ok\n")
	}
}

// TestRules breaks the repository's manifests one way at a time and expects the rule that
// catches it.
func TestRules(t *testing.T) {
	tests := []struct {
		name string
		file string
		old  string // replaced once by new; must occur in file
		new  string
		want string // a substring of the report
	}{
		{
			"unknown field", "statefulset.yaml", "imagePullPolicy: IfNotPresent", "imagePullPolcy: IfNotPresent",
			`statefulset.yaml:1: StatefulSet: does not decode strictly into apps/v1 StatefulSet: error unmarshaling JSON: while decoding JSON: json: unknown field "imagePullPolcy"`,
		},
		{
			"duplicate field", "pdb.yaml", "  maxUnavailable: 1\n", "  maxUnavailable: 1\n  maxUnavailable: 2\n",
			`pdb.yaml:1: PodDisruptionBudget: does not decode strictly`,
		},
		{
			"wrong type", "service.yaml", "port: 9464", "port: metrics",
			"service.yaml:1: Service: does not decode strictly",
		},
		{
			"unknown kind", "serviceaccount.yaml", "kind: ServiceAccount", "kind: ServiceAcount",
			`unexpected apiVersion "v1" and kind "ServiceAcount"`,
		},
		{
			"no image", "statefulset.yaml", "image: ghcr.io/kappa-stream/kappa:0.1.0", "image: \"\"",
			"StatefulSet kappa-fraud: container kappa: image is not set",
		},
		{
			"latest image", "replay-job.yaml", "image: ghcr.io/kappa-stream/kappa:0.1.0", "image: ghcr.io/kappa-stream/kappa:latest",
			"Job kappa-fraud-replay-v2: container replay: image \"ghcr.io/kappa-stream/kappa:latest\": pin a version",
		},
		{
			"readiness path", "statefulset.yaml", "path: /readyz", "path: /ready",
			`readinessProbe path "/ready", want "/readyz"`,
		},
		{
			"liveness port", "statefulset.yaml", "failureThreshold: 6", "failureThreshold: 6\n            initialDelaySeconds: 0\n            terminationGracePeriodSeconds: 5",
			"",
		}, // a valid change: no problem
		{
			"liveness wrong port", "statefulset.yaml", "            path: /healthz\n              port: metrics\n            periodSeconds: 10\n            timeoutSeconds: 5\n            failureThreshold: 6",
			"            path: /healthz\n              port: 8080\n            periodSeconds: 10\n            timeoutSeconds: 5\n            failureThreshold: 6",
			"livenessProbe port 8080 (8080) is not the admin port 9464",
		},
		{
			"no startup probe, generous liveness", "statefulset.yaml", "          startupProbe:\n            httpGet:\n              path: /healthz\n              port: metrics\n            periodSeconds: 10\n            timeoutSeconds: 5\n            failureThreshold: 30\n", "",
			"",
		}, // liveness alone allows 6 x 10s
		{
			"no startup probe, short liveness", "statefulset.yaml", "          startupProbe:\n            httpGet:\n              path: /healthz\n              port: metrics\n            periodSeconds: 10\n            timeoutSeconds: 5\n            failureThreshold: 30\n          # /healthz answers as long as the process serves HTTP; it does not depend on\n          # restore, so restoring a large state never fails it. Six misses in a row (a minute)\n          # restart the pod.\n          livenessProbe:\n            httpGet:\n              path: /healthz\n              port: metrics\n            periodSeconds: 10\n            timeoutSeconds: 5\n            failureThreshold: 6\n",
			"          livenessProbe:\n            httpGet:\n              path: /healthz\n              port: metrics\n            periodSeconds: 10\n            timeoutSeconds: 5\n            failureThreshold: 3\n",
			"livenessProbe could restart a pod within 30s of its start",
		},
		{
			"short startup probe", "statefulset.yaml", "failureThreshold: 30", "failureThreshold: 3",
			"startupProbe allows 30s before liveness starts",
		},
		{
			"short grace", "statefulset.yaml", "terminationGracePeriodSeconds: 45", "terminationGracePeriodSeconds: 39",
			"terminationGracePeriodSeconds 39 is below 2 x --shutdown-timeout 15s + 10s (the open transaction, then the Kafka client's close, then the state): raise it to at least 40",
		},
		{
			"longer shutdown", "statefulset.yaml", "--shutdown-timeout=15s", "--shutdown-timeout=1m",
			"terminationGracePeriodSeconds 45 is below 2 x --shutdown-timeout 1m0s + 10s (the open transaction, then the Kafka client's close, then the state): raise it to at least 130",
		},
		{
			"instance id literal", "statefulset.yaml", "--instance-id=$(POD_NAME)", "--instance-id=kappa",
			"--instance-id=kappa is the same for every pod",
		},
		{
			"instance id not the pod name", "statefulset.yaml", "fieldPath: metadata.name", "fieldPath: metadata.uid",
			"env POD_NAME must come from fieldRef metadata.name",
		},
		{
			"undefined var", "statefulset.yaml", "- name: POD_NAME\n", "- name: POD_NAM\n",
			`refers to $(POD_NAME), which env does not define`,
		},
		{
			"state dir off the claim", "statefulset.yaml", "--state-dir=/var/lib/kappa/state", "--state-dir=/tmp/state",
			"--state-dir /tmp/state is on volume tmp, not on a volumeClaimTemplate",
		},
		{
			"state dir on the root fs", "statefulset.yaml", "--state-dir=/var/lib/kappa/state", "--state-dir=/data",
			"--state-dir: /data is on no volume mount",
		},
		{
			"pipeline does not parse", "configmap-pipeline.yaml", "  name: fraud\n\n", "  name: fraud\n    colour: x\n\n",
			"ConfigMap kappa-fraud-pipeline: key pipeline.yaml does not parse as a pipeline: /etc/kappa/pipeline.yaml:",
		},
		{
			"pipeline drifted", "configmap-pipeline.yaml", "commit_interval: 100ms", "commit_interval: 200ms",
			"key pipeline.yaml differs from ../../examples/fraud/fraud.yaml",
		},
		{
			"model missing", "configmap-pipeline.yaml", "  model.json: |-", "  model2.json: |-",
			"model file: /etc/kappa/model.json: ConfigMap kappa-fraud-pipeline has no key \"model.json\"",
		},
		{
			"drift reference missing", "configmap-pipeline.yaml", "  fraud-reference.json: |", "  reference.json: |",
			"drift reference: /etc/kappa/fraud-reference.json: ConfigMap kappa-fraud-pipeline has no key \"fraud-reference.json\"",
		},
		{
			"drift reference drifted", "configmap-pipeline.yaml", `"version": 1,`, `"version": 1 ,`,
			"key fraud-reference.json differs from ../../examples/fraud/fraud-reference.json",
		},
		{
			"pipeline not mounted", "statefulset.yaml", "-f=/etc/kappa/pipeline.yaml", "-f=/etc/kappa/pipeline.yml",
			`-f: /etc/kappa/pipeline.yml: ConfigMap kappa-fraud-pipeline has no key "pipeline.yml"`,
		},
		{
			"service selects nothing of ours", "service.yaml", "    app.kubernetes.io/component: processor\n  ports:", "    app.kubernetes.io/component: replay\n  ports:",
			"Service kappa-fraud: spec.selector does not select the pods of StatefulSet kappa-fraud",
		},
		{
			"pdb selects the job", "pdb.yaml", "      app.kubernetes.io/component: processor\n", "",
			"PodDisruptionBudget kappa-fraud: spec.selector also selects the pods of Job kappa-fraud-replay-v2",
		},
		{
			"pdb max unavailable", "pdb.yaml", "maxUnavailable: 1", "maxUnavailable: 2",
			"maxUnavailable must be 1",
		},
		{
			"service not headless", "service.yaml", "clusterIP: None", "type: ClusterIP",
			"must be headless (clusterIP: None)",
		},
		{
			"monitor port", "servicemonitor.yaml", "- port: metrics", "- port: metric",
			`spec.endpoints[0].port "metric": Service kappa-fraud has no port of that name`,
		},
		{
			"monitor typo", "servicemonitor.yaml", "scrapeTimeout: 10s", "scrapeTimout: 10s",
			`spec.endpoints[0]: unknown field "scrapeTimout"`,
		},
		{
			"monitor selects no service", "servicemonitor.yaml", "      app.kubernetes.io/component: processor\n", "      app.kubernetes.io/component: nothing\n",
			"spec.selector matches the labels of no Service",
		},
		{
			"password flag", "statefulset.yaml", "- --kafka-sasl-username=$(KAPPA_KAFKA_SASL_USERNAME)", "- --kafka-sasl-username=$(KAPPA_KAFKA_SASL_USERNAME)\n            - --kafka-sasl-password=hunter2",
			"flag --kafka-sasl-password: a password is never a flag",
		},
		{
			"password literal", "replay-job.yaml", "            - name: KAPPA_KAFKA_SASL_PASSWORD\n              valueFrom:\n                secretKeyRef:\n                  name: kappa-kafka\n                  key: sasl-password\n",
			"            - name: KAPPA_KAFKA_SASL_PASSWORD\n              value: hunter2\n",
			"env KAPPA_KAFKA_SASL_PASSWORD must come from a Secret",
		},
		{
			"bad mechanism", "configmap-kafka.yaml", "sasl-mechanism: SCRAM-SHA-512", "sasl-mechanism: SCRAM-SHA-1",
			`--kafka-sasl-mechanism "SCRAM-SHA-1": want one of PLAIN, SCRAM-SHA-256, SCRAM-SHA-512`,
		},
		{
			"tls file not in the secret", "statefulset.yaml", "--kafka-tls-ca-file=/etc/kappa-kafka/ca.crt", "--kafka-tls-ca-file=/etc/kappa/ca.crt",
			`--kafka-tls-ca-file: /etc/kappa/ca.crt: ConfigMap kappa-fraud-pipeline has no key "ca.crt"`,
		},
		{
			"missing secret key", "secret-kafka.example.yaml", "  sasl-username: PLACEHOLDER-username\n", "",
			`env KAPPA_KAFKA_SASL_USERNAME: Secret kappa-kafka has no key "sasl-username"`,
		},
		{
			"writable root", "statefulset.yaml", "readOnlyRootFilesystem: true", "readOnlyRootFilesystem: false",
			"securityContext.readOnlyRootFilesystem must be true",
		},
		{
			"root", "statefulset.yaml", "runAsNonRoot: true", "runAsNonRoot: false",
			"does not run as non-root",
		},
		{
			"no limits", "statefulset.yaml", "            limits:\n              cpu: \"2\"\n              memory: 2Gi\n", "            limits:\n              cpu: \"2\"\n",
			"resources.limits.memory is not set",
		},
		{
			"no anti-affinity", "statefulset.yaml", "podAntiAffinity:", "podAffinity:",
			"no podAntiAffinity",
		},
		{
			"job listed", "kustomization.yaml", "  - servicemonitor.yaml\n", "  - servicemonitor.yaml\n  - replay-job.yaml\n",
			"resource replay-job.yaml holds a Job",
		},
		{
			"example secret listed", "kustomization.yaml", "  - servicemonitor.yaml\n", "  - servicemonitor.yaml\n  - secret-kafka.example.yaml\n",
			"resource secret-kafka.example.yaml holds PLACEHOLDER values",
		},
		{
			"manifest not listed", "kustomization.yaml", "  - pdb.yaml\n", "",
			"pdb.yaml is not in resources",
		},
		{
			"image override unused", "kustomization.yaml", "  - name: ghcr.io/kappa-stream/kappa\n", "  - name: ghcr.io/kappa-stream/kapa\n",
			"images: ghcr.io/kappa-stream/kapa is the image of no container",
		},
		{
			"replay flags", "replay-job.yaml", "            - --output-version=2\n", "",
			"container replay: --output-version is not set",
		},
		{
			"namespace", "pdb.yaml", "  name: kappa-fraud\n", "  name: kappa-fraud\n  namespace: prod\n",
			"metadata.namespace is set",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := copyManifests(t)
			path := filepath.Join(dir, tt.file)
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Contains(data, []byte(tt.old)) {
				t.Fatalf("%s does not contain %q: update the test", tt.file, tt.old)
			}
			data = bytes.Replace(data, []byte(tt.old), []byte(tt.new), 1)
			if err := os.WriteFile(path, data, 0o644); err != nil {
				t.Fatal(err)
			}
			var out, errOut bytes.Buffer
			code := run([]string{"-dir", dir, "-example", repoExample}, &out, &errOut)
			if tt.want == "" {
				if code != 0 {
					t.Fatalf("got exit %d, want 0:\n%s%s", code, out.String(), errOut.String())
				}
				return
			}
			if code != 1 {
				t.Fatalf("got exit %d, want 1:\n%s%s", code, out.String(), errOut.String())
			}
			if !strings.Contains(out.String(), tt.want) {
				t.Fatalf("got\n%s\nwant a line containing %q", out.String(), tt.want)
			}
			if !strings.HasSuffix(out.String(), "\n") || !strings.Contains(out.String(), "manifests=FAIL problems=") {
				t.Fatalf("got\n%s\nwant it to end with manifests=FAIL problems=N", out.String())
			}
		})
	}
}

// copyManifests copies the repository's manifests into a temporary directory.
func copyManifests(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	entries, err := os.ReadDir(repoManifests)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		data, err := os.ReadFile(filepath.Join(repoManifests, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, e.Name()), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}
