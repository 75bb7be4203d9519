// Command k8scheck validates the Kubernetes manifests of deploy/k8s without a cluster.
//
// It reads every YAML file under the directory (default deploy/k8s), splits it into
// documents, and decodes each one strictly (unknown and duplicate fields are errors) into
// the Kubernetes API types of k8s.io/api: apps/v1 StatefulSet, v1 Service, ConfigMap,
// Secret and ServiceAccount, policy/v1 PodDisruptionBudget and batch/v1 Job. The
// ServiceMonitor (monitoring.coreos.com/v1) is decoded as unstructured data with its fields
// checked by hand, and kustomization.yaml against the Kustomization fields it may use.
//
// It then checks required fields and Kappa's own rules: images pinned, probes on the admin
// port's /healthz and /readyz, a startup budget before liveness, termination grace for
// --shutdown-timeout plus 15s, the instance id from the pod's metadata.name, --state-dir
// on the claim template's volume, the pipeline in its ConfigMap parsing with package
// pipeline (and its model files loading with package score, with as many features as the
// pipeline gives), the ConfigMap equal to the repository's example, the Service, the
// PodDisruptionBudget and the ServiceMonitor selecting the StatefulSet's pods and not the
// replay Job's, Kafka credentials from Secrets (the SASL password never a flag), a
// non-root read-only container, and kustomization.yaml listing files that exist but no
// example Secret and no Job.
//
// It prints one line per problem, "file:document: kind name: what" (document is the
// 1-based index of the YAML document in the file), then "manifests=FAIL problems=N" and
// exits 1; or only "manifests=ok". It needs no cluster, kubectl or network, and it is a
// tool: the product binary never imports the Kubernetes modules it uses.
package main
