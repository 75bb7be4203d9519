package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/yaml"

	"github.com/kappa-stream/kappa/drift"
	"github.com/kappa-stream/kappa/pipeline"
	"github.com/kappa-stream/kappa/score"
)

// Kappa's defaults and the rules' margins.
const (
	defaultShutdownTimeout = 15 * time.Second
	// graceMargin is what termination grace must leave after twice --shutdown-timeout
	// (which bounds finishing the open transaction, and then closing the Kafka client):
	// applying the last batch and closing the store.
	graceMargin = 10 * time.Second
	// startupBudget is how long a pod may take before its admin server listens: the
	// broker checks and topic setup of `kappa run` are bounded by one minute.
	startupBudget = 60 * time.Second
	// placeholder marks the values of an example Secret.
	placeholder = "PLACEHOLDER"
)

// saslMechanisms are the values --kafka-sasl-mechanism accepts.
var saslMechanisms = []string{"PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"}

// tlsFileFlags name files that must come from a mounted Secret.
var tlsFileFlags = []string{"kafka-tls-ca-file", "kafka-tls-cert-file", "kafka-tls-key-file"}

// manifests is every decoded document and what the rules need across them.
type manifests struct {
	objs []*object
	r    *report
	// example is the pipeline file the pipeline ConfigMap must equal (its model files are
	// the files of the same names next to it); "" skips that comparison.
	example string
	// checked records the pipeline ConfigMap keys already checked (a StatefulSet and a
	// Job may mount the same one).
	checked map[string]bool
}

func (m *manifests) find(kind, name string) *object {
	for _, o := range m.objs {
		if o.kind == kind && o.name == name {
			return o
		}
	}
	return nil
}

func (m *manifests) all(kind string) []*object {
	var out []*object
	for _, o := range m.objs {
		if o.kind == kind {
			out = append(out, o)
		}
	}
	return out
}

// check runs every rule over objs.
func check(objs []*object, files []string, example string, r *report) {
	m := &manifests{objs: objs, r: r, example: example, checked: map[string]bool{}}
	seen := map[string]*object{}
	for _, o := range objs {
		m.checkMeta(o)
		if o.kust == nil {
			id := o.kind + "/" + o.name
			if first, dup := seen[id]; dup {
				r.add(o, "defined twice (also %s:%d)", first.file, first.index)
			}
			seen[id] = o
		}
	}
	for _, o := range objs {
		switch {
		case o.sts != nil:
			m.checkStatefulSet(o)
		case o.job != nil:
			m.checkJob(o)
		case o.svc != nil:
			m.checkService(o)
		case o.pdb != nil:
			m.checkPDB(o)
		case o.monitor != nil:
			m.checkServiceMonitor(o)
		case o.secret != nil:
			m.checkSecret(o)
		case o.kust != nil:
			m.checkKustomization(o, files)
		}
	}
}

func (m *manifests) checkMeta(o *object) {
	if o.kust != nil {
		return
	}
	meta := o.meta()
	if meta.Name == "" {
		m.r.add(o, "metadata.name is not set")
	}
	for _, p := range validation.IsDNS1123Subdomain(meta.Name) {
		m.r.add(o, "metadata.name: %s", p)
	}
	if meta.Namespace != "" {
		m.r.add(o, "metadata.namespace is set: leave it out and choose it with kubectl -n or kustomize's namespace")
	}
	for k, v := range meta.Labels {
		for _, p := range validation.IsQualifiedName(k) {
			m.r.add(o, "label key %q: %s", k, p)
		}
		for _, p := range validation.IsValidLabelValue(v) {
			m.r.add(o, "label %s value %q: %s", k, v, p)
		}
	}
}

// podsOf returns the pod labels of each StatefulSet and Job, for selector rules.
func (m *manifests) podsOf(kind string) map[*object]labels.Set {
	out := map[*object]labels.Set{}
	for _, o := range m.all(kind) {
		switch {
		case o.sts != nil:
			out[o] = o.sts.Spec.Template.Labels
		case o.job != nil:
			out[o] = o.job.Spec.Template.Labels
		}
	}
	return out
}

// selects reports what a selector (of a Service, PodDisruptionBudget or ServiceMonitor)
// must and must not select: every StatefulSet's pods, no Job's.
func (m *manifests) selects(o *object, what string, sel labels.Selector) {
	for sts, set := range m.podsOf("StatefulSet") {
		if !sel.Matches(set) {
			m.r.add(o, "%s does not select the pods of StatefulSet %s (labels %s)", what, sts.name, set)
		}
	}
	for job, set := range m.podsOf("Job") {
		if sel.Matches(set) {
			m.r.add(o, "%s also selects the pods of Job %s: give them a label that tells them apart", what, job.name)
		}
	}
}

func (m *manifests) checkStatefulSet(o *object) {
	s := o.sts.Spec
	tpl := s.Template
	if s.Selector == nil {
		m.r.add(o, "spec.selector is not set")
	} else if sel, err := metav1.LabelSelectorAsSelector(s.Selector); err != nil || sel.Empty() {
		m.r.add(o, "spec.selector is invalid or empty: %v", err)
	} else if !sel.Matches(labels.Set(tpl.Labels)) {
		m.r.add(o, "spec.selector does not match spec.template.metadata.labels")
	}
	if s.UpdateStrategy.Type == "OnDelete" {
		m.r.add(o, "updateStrategy OnDelete: rollouts would need pods deleted by hand; use RollingUpdate")
	}
	if tpl.Spec.TerminationGracePeriodSeconds == nil {
		m.r.add(o, "terminationGracePeriodSeconds is not set (the default 30s is not sized for --shutdown-timeout)")
	}
	if a := tpl.Spec.Affinity; a == nil || a.PodAntiAffinity == nil ||
		len(a.PodAntiAffinity.PreferredDuringSchedulingIgnoredDuringExecution)+len(a.PodAntiAffinity.RequiredDuringSchedulingIgnoredDuringExecution) == 0 {
		m.r.add(o, "no podAntiAffinity: spread the instances over nodes")
	}
	claims := map[string]bool{}
	for _, c := range s.VolumeClaimTemplates {
		claims[c.Name] = true
		if len(c.Spec.AccessModes) == 0 {
			m.r.add(o, "volumeClaimTemplate %s: no accessModes", c.Name)
		}
		if _, ok := c.Spec.Resources.Requests[corev1.ResourceStorage]; !ok {
			m.r.add(o, "volumeClaimTemplate %s: no resources.requests.storage", c.Name)
		}
	}
	k := m.checkContainers(o, &tpl.Spec, claims)
	if k == nil {
		return
	}
	if k.args.sub != "run" {
		m.r.add(o, "container %s: args start with %q, want the subcommand run", k.c.Name, k.args.sub)
	}
	m.checkKafka(k)
	m.checkPipelineFlag(k)
	m.checkInstanceID(k)
	m.checkStateDir(k)
	m.checkGrace(k)
	port, err := k.adminPort()
	if err != nil {
		m.r.add(o, "container %s: %v", k.c.Name, err)
		return
	}
	m.checkProbes(k, port)
	m.checkGoverningService(k, port)
	if len(m.all("PodDisruptionBudget")) == 0 {
		m.r.add(o, "no PodDisruptionBudget: a drain could stop every instance at once")
	}
}

// checkInstanceID requires --instance-id to be the pod's name through the downward API.
func (m *manifests) checkInstanceID(k *container) {
	v, ok := k.args.flags["instance-id"]
	if !ok {
		m.r.add(k.o, "container %s: --instance-id is not set: give it $(POD_NAME), with POD_NAME from fieldRef metadata.name", k.c.Name)
		return
	}
	mm := varRef.FindStringSubmatch(v)
	if mm == nil {
		m.r.add(k.o, "container %s: --instance-id=%s is the same for every pod: use $(POD_NAME), with POD_NAME from fieldRef metadata.name", k.c.Name, v)
		return
	}
	e, defined := k.env[mm[1]]
	if !defined || e.ValueFrom == nil || e.ValueFrom.FieldRef == nil || e.ValueFrom.FieldRef.FieldPath != "metadata.name" {
		m.r.add(k.o, "container %s: --instance-id=%s: env %s must come from fieldRef metadata.name (the pod name, stable across restarts)", k.c.Name, v, mm[1])
	}
}

// checkStateDir requires --state-dir on the volume of a claim template.
func (m *manifests) checkStateDir(k *container) {
	dir, ok := k.args.flags["state-dir"]
	if !ok {
		m.r.add(k.o, "container %s: --state-dir is not set: the pipeline's state_dir would be on the read-only root file system", k.c.Name)
		return
	}
	f, err := k.fileAt(dir)
	switch {
	case err != nil:
		m.r.add(k.o, "container %s: --state-dir: %v", k.c.Name, err)
	case !f.claim:
		m.r.add(k.o, "container %s: --state-dir %s is on volume %s, not on a volumeClaimTemplate: the state would not survive a restart", k.c.Name, dir, f.volume)
	}
}

// checkGrace requires terminationGracePeriodSeconds >= 2 x --shutdown-timeout + graceMargin.
func (m *manifests) checkGrace(k *container) {
	shutdown := defaultShutdownTimeout
	if v, ok := k.args.flags["shutdown-timeout"]; ok {
		d, err := time.ParseDuration(v)
		if err != nil {
			m.r.add(k.o, "container %s: --shutdown-timeout %q: %v", k.c.Name, v, err)
			return
		}
		shutdown = d
	}
	g := k.spec.TerminationGracePeriodSeconds
	if g == nil {
		return
	}
	if want := 2*shutdown + graceMargin; time.Duration(*g)*time.Second < want {
		m.r.add(k.o, "terminationGracePeriodSeconds %d is below 2 x --shutdown-timeout %s + %s (the open transaction, then the Kafka client's close, then the state): raise it to at least %d",
			*g, shutdown, graceMargin, int(want.Seconds()))
	}
}

func (m *manifests) checkProbes(k *container, port int) {
	probe := func(p *corev1.Probe, which, path string) {
		switch {
		case p == nil:
			m.r.add(k.o, "container %s: no %s", k.c.Name, which)
		case p.HTTPGet == nil:
			m.r.add(k.o, "container %s: %s is not an httpGet of %s", k.c.Name, which, path)
		default:
			if p.HTTPGet.Path != path {
				m.r.add(k.o, "container %s: %s path %q, want %q", k.c.Name, which, p.HTTPGet.Path, path)
			}
			if got, ok := containerPort(k.c, p.HTTPGet.Port); !ok {
				m.r.add(k.o, "container %s: %s port %s: the container has no port of that name", k.c.Name, which, p.HTTPGet.Port.String())
			} else if got != port {
				m.r.add(k.o, "container %s: %s port %s (%d) is not the admin port %d (--admin-addr)", k.c.Name, which, p.HTTPGet.Port.String(), got, port)
			}
		}
	}
	c := k.c
	probe(c.ReadinessProbe, "readinessProbe", "/readyz")
	probe(c.LivenessProbe, "livenessProbe", "/healthz")
	if c.StartupProbe != nil {
		probe(c.StartupProbe, "startupProbe", "/healthz")
	}
	// Before the admin server listens, a liveness probe fails: it must not restart the pod.
	budget := func(p *corev1.Probe) time.Duration {
		period, failures := p.PeriodSeconds, p.FailureThreshold
		if period == 0 {
			period = 10
		}
		if failures == 0 {
			failures = 3
		}
		return time.Duration(p.InitialDelaySeconds+period*failures) * time.Second
	}
	switch {
	case c.StartupProbe != nil:
		if b := budget(c.StartupProbe); b < startupBudget {
			m.r.add(k.o, "container %s: startupProbe allows %s before liveness starts, less than the %s kappa may take before its admin server listens: raise failureThreshold",
				c.Name, b, startupBudget)
		}
	case c.LivenessProbe != nil && budget(c.LivenessProbe) < startupBudget:
		m.r.add(k.o, "container %s: livenessProbe could restart a pod within %s of its start, before its admin server listens: add a startupProbe on /healthz allowing %s",
			c.Name, budget(c.LivenessProbe), startupBudget)
	}
	if c.ReadinessProbe != nil && c.LivenessProbe != nil && c.ReadinessProbe.HTTPGet != nil && c.LivenessProbe.HTTPGet != nil &&
		c.LivenessProbe.HTTPGet.Path == "/readyz" {
		m.r.add(k.o, "container %s: liveness on /readyz would restart a pod that is restoring", c.Name)
	}
}

// checkGoverningService requires spec.serviceName to name a headless Service that selects
// the pods and exposes the admin port as "metrics".
func (m *manifests) checkGoverningService(k *container, port int) {
	name := k.o.sts.Spec.ServiceName
	svc := m.find("Service", name)
	if svc == nil {
		m.r.add(k.o, "spec.serviceName %q: no such Service in these manifests", name)
		return
	}
	if svc.svc.Spec.ClusterIP != corev1.ClusterIPNone {
		m.r.add(svc, "the governing Service of StatefulSet %s must be headless (clusterIP: None)", k.o.name)
	}
	for _, p := range svc.svc.Spec.Ports {
		if p.Name != "metrics" {
			continue
		}
		target := p.TargetPort
		if target.IntValue() == 0 && target.StrVal == "" {
			target.IntVal, target.Type = p.Port, 0
		}
		if got, ok := containerPort(k.c, target); !ok || got != port {
			m.r.add(svc, "port metrics targets %s, not the admin port %d of StatefulSet %s", target.String(), port, k.o.name)
		}
		return
	}
	m.r.add(svc, "no port named metrics (the admin port %d, scraped by the ServiceMonitor)", port)
}

func (m *manifests) checkJob(o *object) {
	spec := &o.job.Spec.Template.Spec
	if rp := spec.RestartPolicy; rp != corev1.RestartPolicyNever && rp != corev1.RestartPolicyOnFailure {
		m.r.add(o, "restartPolicy %q: a Job needs Never or OnFailure", rp)
	}
	k := m.checkContainers(o, spec, nil)
	if k == nil {
		return
	}
	if k.args.sub != "replay" {
		m.r.add(o, "container %s: args start with %q, want the subcommand replay", k.c.Name, k.args.sub)
	}
	for _, f := range []string{"from", "to", "output-version"} {
		if k.args.flags[f] == "" {
			m.r.add(o, "container %s: --%s is not set", k.c.Name, f)
		}
	}
	m.checkKafka(k)
	m.checkPipelineFlag(k)
}

// checkKafka: brokers set, TLS files from Secrets, SASL settled, the password only from a
// Secret through KAPPA_KAFKA_SASL_PASSWORD and never a flag.
func (m *manifests) checkKafka(k *container) {
	if _, ok := k.env["KAPPA_BROKERS"]; !ok && k.args.flags["brokers"] == "" {
		m.r.add(k.o, "container %s: no Kafka brokers: set env KAPPA_BROKERS (or --brokers)", k.c.Name)
	}
	for f := range k.args.flags {
		if strings.Contains(f, "password") {
			m.r.add(k.o, "container %s: flag --%s: a password is never a flag (it shows in the process list and the pod spec); use env KAPPA_KAFKA_SASL_PASSWORD from a Secret", k.c.Name, f)
		}
	}
	for _, e := range k.c.Env {
		secretish := strings.Contains(e.Name, "PASSWORD") || strings.Contains(e.Name, "SECRET") || strings.Contains(e.Name, "TOKEN")
		if secretish && (e.ValueFrom == nil || e.ValueFrom.SecretKeyRef == nil) {
			m.r.add(k.o, "container %s: env %s must come from a Secret (valueFrom.secretKeyRef), not a literal or a ConfigMap", k.c.Name, e.Name)
		}
	}
	for _, f := range tlsFileFlags {
		p, ok := k.args.flags[f]
		if !ok {
			continue
		}
		mf, err := k.fileAt(p)
		switch {
		case err != nil:
			m.r.add(k.o, "container %s: --%s: %v", k.c.Name, f, err)
		case mf.obj == nil || mf.obj.secret == nil:
			m.r.add(k.o, "container %s: --%s %s is not a key of a mounted Secret", k.c.Name, f, p)
		}
	}
	_, hasCert := k.args.flags["kafka-tls-cert-file"]
	_, hasKey := k.args.flags["kafka-tls-key-file"]
	if hasCert != hasKey {
		m.r.add(k.o, "container %s: mTLS needs both --kafka-tls-cert-file and --kafka-tls-key-file", k.c.Name)
	}
	if _, ok := k.args.flags["kafka-sasl-mechanism"]; !ok {
		return
	}
	if mech, _, known := k.value("kafka-sasl-mechanism"); known && !slices.Contains(saslMechanisms, mech) {
		m.r.add(k.o, "container %s: --kafka-sasl-mechanism %q: want one of %s", k.c.Name, mech, strings.Join(saslMechanisms, ", "))
	}
	if _, ok := k.args.flags["kafka-sasl-username"]; !ok {
		m.r.add(k.o, "container %s: --kafka-sasl-mechanism without --kafka-sasl-username", k.c.Name)
	}
	if _, ok := k.env["KAPPA_KAFKA_SASL_PASSWORD"]; !ok {
		m.r.add(k.o, "container %s: --kafka-sasl-mechanism without env KAPPA_KAFKA_SASL_PASSWORD (from a Secret)", k.c.Name)
	}
}

// checkPipelineFlag follows -f to its ConfigMap and checks the pipeline there.
func (m *manifests) checkPipelineFlag(k *container) {
	p, ok := k.args.flags["f"]
	if !ok || p == "" {
		m.r.add(k.o, "container %s: -f pipeline.yaml is not set", k.c.Name)
		return
	}
	mf, err := k.fileAt(p)
	if err != nil {
		m.r.add(k.o, "container %s: -f: %v", k.c.Name, err)
		return
	}
	if mf.obj == nil || mf.obj.cm == nil {
		m.r.add(k.o, "container %s: -f %s is not a key of a mounted ConfigMap", k.c.Name, p)
		return
	}
	id := mf.obj.name + "/" + mf.key + "@" + p
	if m.checked[id] {
		return
	}
	m.checked[id] = true
	m.checkPipeline(k, mf.obj, mf.key, p)
}

// checkPipeline parses the pipeline held by cm[key] as the container sees it at path, then
// its model files, then compares both with the example.
func (m *manifests) checkPipeline(k *container, cm *object, key, path string) {
	data := cm.cm.Data[key]
	m.compareExample(cm, key, m.example)
	def, err := pipeline.Parse(path, []byte(data))
	if err != nil {
		var ps pipeline.Problems
		if errors.As(err, &ps) {
			for _, p := range ps {
				m.r.add(cm, "key %s does not parse as a pipeline: %s", key, p)
			}
		} else {
			m.r.add(cm, "key %s does not parse as a pipeline: %v", key, err)
		}
		return
	}
	if d := def.Quality.Drift; d != nil {
		m.checkDriftReference(k, cm, key, d.Reference)
	}
	sc := def.ScoreOp()
	if sc == nil {
		return
	}
	refs := []*pipeline.ModelRef{&sc.Model}
	if sc.Shadow != nil {
		refs = append(refs, sc.Shadow)
	}
	for _, ref := range refs {
		if ref.File == "" {
			continue
		}
		mf, err := k.fileAt(ref.File)
		if err != nil {
			m.r.add(cm, "pipeline %s: model file: %v", key, err)
			continue
		}
		if mf.obj == nil || mf.obj.cm == nil {
			m.r.add(cm, "pipeline %s: model file %s is not in a mounted ConfigMap", key, ref.File)
			continue
		}
		m.compareExample(mf.obj, mf.key, filepath.Join(filepath.Dir(m.example), mf.key))
		model, err := score.Parse(ref.File, []byte(mf.obj.cm.Data[mf.key]))
		if err != nil {
			m.r.add(mf.obj, "key %s: %v", mf.key, err)
			continue
		}
		if n := model.NumFeatures(); n != len(sc.Features) {
			m.r.add(mf.obj, "key %s: the model takes %d features, the pipeline gives %d", mf.key, n, len(sc.Features))
		}
	}
}

// checkDriftReference requires the drift reference file at path (as the container sees it)
// to be in a mounted ConfigMap, to parse, and to equal the example's.
func (m *manifests) checkDriftReference(k *container, cm *object, key, path string) {
	if path == "" {
		m.r.add(cm, "pipeline %s: quality.drift has no reference; kappa run refuses to start without one", key)
		return
	}
	rf, err := k.fileAt(path)
	if err != nil {
		m.r.add(cm, "pipeline %s: drift reference: %v", key, err)
		return
	}
	if rf.obj == nil || rf.obj.cm == nil {
		m.r.add(cm, "pipeline %s: drift reference %s is not in a mounted ConfigMap", key, path)
		return
	}
	m.compareExample(rf.obj, rf.key, filepath.Join(filepath.Dir(m.example), rf.key))
	if _, err := drift.Parse(path, []byte(rf.obj.cm.Data[rf.key])); err != nil {
		m.r.add(rf.obj, "key %s: %v", rf.key, err)
	}
}

// compareExample requires cm[key] to equal the file example, byte for byte.
func (m *manifests) compareExample(cm *object, key, example string) {
	if m.example == "" {
		return
	}
	want, err := os.ReadFile(example)
	if err != nil {
		m.r.add(cm, "key %s: cannot compare with the example: %v", key, err)
		return
	}
	if cm.cm.Data[key] != string(want) {
		m.r.add(cm, "key %s differs from %s: regenerate it with deploy/k8s/pipeline-configmap.sh > %s", key, example, cm.file)
	}
}

func (m *manifests) checkService(o *object) {
	s := o.svc.Spec
	if len(s.Selector) == 0 {
		m.r.add(o, "spec.selector is empty: it selects no pods")
		return
	}
	if len(s.Ports) == 0 {
		m.r.add(o, "spec.ports is empty")
	}
	for _, p := range s.Ports {
		for _, msg := range validation.IsValidPortName(p.Name) {
			m.r.add(o, "port name %q: %s", p.Name, msg)
		}
	}
	m.selects(o, "spec.selector", labels.SelectorFromSet(s.Selector))
}

func (m *manifests) checkPDB(o *object) {
	s := o.pdb.Spec
	if s.MinAvailable != nil {
		m.r.add(o, "minAvailable is set: use maxUnavailable: 1 (one instance down at a time, whatever the replica count)")
	}
	if s.MaxUnavailable == nil || s.MaxUnavailable.String() != "1" {
		m.r.add(o, "maxUnavailable must be 1")
	}
	if s.Selector == nil {
		m.r.add(o, "spec.selector is not set")
		return
	}
	sel, err := metav1.LabelSelectorAsSelector(s.Selector)
	if err != nil || sel.Empty() {
		m.r.add(o, "spec.selector is invalid or empty: %v", err)
		return
	}
	m.selects(o, "spec.selector", sel)
}

// ServiceMonitor fields (monitoring.coreos.com/v1) accepted here; anything else is
// reported as a likely typo.
var (
	monitorFields  = []string{"apiVersion", "kind", "metadata", "spec"}
	monitorSpec    = []string{"selector", "endpoints", "namespaceSelector", "jobLabel", "targetLabels", "podTargetLabels", "sampleLimit", "targetLimit", "labelLimit", "attachMetadata", "scrapeProtocols"}
	monitorEndpont = []string{"port", "targetPort", "path", "scheme", "params", "interval", "scrapeTimeout", "honorLabels", "honorTimestamps", "trackTimestampsStaleness", "metricRelabelings", "relabelings", "tlsConfig", "bearerTokenSecret", "authorization", "basicAuth", "oauth2", "proxyUrl", "followRedirects", "enableHttp2", "filterRunning"}
)

func (m *manifests) checkServiceMonitor(o *object) {
	unknown := func(where string, mp map[string]any, known []string) {
		for k := range mp {
			if !slices.Contains(known, k) {
				m.r.add(o, "%s: unknown field %q", where, k)
			}
		}
	}
	unknown("top level", o.monitor, monitorFields)
	spec, _ := o.monitor["spec"].(map[string]any)
	if spec == nil {
		m.r.add(o, "spec is not set")
		return
	}
	unknown("spec", spec, monitorSpec)
	var sel metav1.LabelSelector
	if raw, ok := spec["selector"]; !ok {
		m.r.add(o, "spec.selector is not set")
	} else if err := roundTrip(raw, &sel); err != nil {
		m.r.add(o, "spec.selector: %v", err)
	}
	selector, err := metav1.LabelSelectorAsSelector(&sel)
	if err != nil || selector.Empty() {
		m.r.add(o, "spec.selector is invalid or empty (it would select every Service): %v", err)
		return
	}
	var services []*object
	for _, svc := range m.all("Service") {
		if selector.Matches(labels.Set(svc.svc.Labels)) {
			services = append(services, svc)
		}
	}
	if len(services) == 0 {
		m.r.add(o, "spec.selector matches the labels of no Service in these manifests")
	}
	eps, _ := spec["endpoints"].([]any)
	if len(eps) == 0 {
		m.r.add(o, "spec.endpoints is empty: nothing is scraped")
	}
	for i, raw := range eps {
		ep, _ := raw.(map[string]any)
		where := fmt.Sprintf("spec.endpoints[%d]", i)
		if ep == nil {
			m.r.add(o, "%s is not a mapping", where)
			continue
		}
		unknown(where, ep, monitorEndpont)
		port, _ := ep["port"].(string)
		if port == "" {
			m.r.add(o, "%s.port (the Service port's name) is not set", where)
		}
		for _, svc := range services {
			if !slices.ContainsFunc(svc.svc.Spec.Ports, func(p corev1.ServicePort) bool { return p.Name == port }) {
				m.r.add(o, "%s.port %q: Service %s has no port of that name", where, port, svc.name)
			}
		}
		if p, ok := ep["path"].(string); ok && p != "/metrics" {
			m.r.add(o, "%s.path %q: kappa serves metrics at /metrics", where, p)
		}
		for _, f := range []string{"interval", "scrapeTimeout"} {
			if v, ok := ep[f]; ok {
				s, _ := v.(string)
				if _, err := time.ParseDuration(s); err != nil {
					m.r.add(o, "%s.%s %v: not a duration", where, f, v)
				}
			}
		}
	}
}

// checkSecret keeps placeholder Secrets in files named *.example.yaml.
func (m *manifests) checkSecret(o *object) {
	if hasPlaceholder(o) && !strings.HasSuffix(o.file, ".example.yaml") {
		m.r.add(o, "holds %s values but its file is not named *.example.yaml", placeholder)
	}
}

func hasPlaceholder(o *object) bool {
	if o.secret == nil {
		return false
	}
	for _, v := range o.secret.StringData {
		if strings.Contains(v, placeholder) {
			return true
		}
	}
	for _, v := range o.secret.Data {
		if strings.Contains(string(v), placeholder) {
			return true
		}
	}
	return false
}

// checkKustomization: listed resources exist, every manifest that should be applied is
// listed, and no example Secret or Job is; image overrides name images in use.
func (m *manifests) checkKustomization(o *object, files []string) {
	k := o.kust
	dir := filepath.Dir(o.file)
	listed := map[string]bool{}
	for _, res := range k.Resources {
		p := filepath.Join(dir, res)
		listed[p] = true
		if _, err := os.Stat(p); err != nil {
			m.r.add(o, "resource %s: %v", res, err)
		}
	}
	for _, f := range files {
		if f == o.file || filepath.Dir(f) != dir {
			continue
		}
		var job, example bool
		for _, x := range m.objs {
			if x.file == f {
				job = job || x.job != nil
				example = example || hasPlaceholder(x)
			}
		}
		rel, _ := filepath.Rel(dir, f)
		switch {
		case listed[f] && job:
			m.r.add(o, "resource %s holds a Job: apply -k would start it at every deploy (and fail on its immutable template); create it by hand", rel)
		case listed[f] && example:
			m.r.add(o, "resource %s holds %s values: never deploy the example", rel, placeholder)
		case !listed[f] && !job && !example:
			m.r.add(o, "%s is not in resources: kubectl apply -k would skip it", rel)
		}
	}
	for _, img := range k.Images {
		if !slices.ContainsFunc(m.objs, func(x *object) bool { return usesImage(x, img.Name) }) {
			m.r.add(o, "images: %s is the image of no container: the override would change nothing", img.Name)
		}
	}
}

func usesImage(o *object, name string) bool {
	var spec *corev1.PodSpec
	switch {
	case o.sts != nil:
		spec = &o.sts.Spec.Template.Spec
	case o.job != nil:
		spec = &o.job.Spec.Template.Spec
	default:
		return false
	}
	for _, c := range spec.Containers {
		ref, _, _ := strings.Cut(c.Image, "@")
		if i := strings.LastIndex(ref, ":"); i > strings.LastIndex(ref, "/") {
			ref = ref[:i]
		}
		if ref == name {
			return true
		}
	}
	return false
}

// roundTrip converts unstructured data into a typed value, strictly.
func roundTrip(in, out any) error {
	j, err := yaml.Marshal(in)
	if err != nil {
		return err
	}
	return yaml.UnmarshalStrict(j, out)
}
