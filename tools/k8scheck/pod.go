package main

import (
	"fmt"
	"net"
	"path"
	"regexp"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation"
)

// kappaArgs are the parsed arguments of a kappa container: the subcommand and its flags,
// "-name=value", "--name=value" or "--name value", keyed by name without dashes.
type kappaArgs struct {
	sub   string
	flags map[string]string
}

func parseArgs(args []string) (kappaArgs, []string) {
	a := kappaArgs{flags: map[string]string{}}
	var problems []string
	for i := 0; i < len(args); i++ {
		arg := args[i]
		if !strings.HasPrefix(arg, "-") {
			if a.sub == "" && i == 0 {
				a.sub = arg
				continue
			}
			problems = append(problems, fmt.Sprintf("argument %q is not a flag", arg))
			continue
		}
		name, value, ok := strings.Cut(strings.TrimLeft(arg, "-"), "=")
		if !ok && i+1 < len(args) && !strings.HasPrefix(args[i+1], "-") {
			value, i = args[i+1], i+1
		}
		if _, dup := a.flags[name]; dup {
			problems = append(problems, fmt.Sprintf("flag --%s given twice", name))
		}
		a.flags[name] = value
	}
	return a, problems
}

// container is the kappa container of a pod, with what the rules need to resolve its flags.
type container struct {
	m      *manifests
	o      *object // the StatefulSet or Job
	spec   *corev1.PodSpec
	c      *corev1.Container
	claims map[string]bool // volume names of the StatefulSet's claim templates
	args   kappaArgs
	env    map[string]corev1.EnvVar
}

// varRef matches an argument that is exactly one Kubernetes $(VAR) reference.
var varRef = regexp.MustCompile(`^\$\(([A-Za-z_][A-Za-z0-9_]*)\)$`)

// anyVarRef finds every $(VAR) in an argument ($$(VAR) is an escape, not a reference).
var anyVarRef = regexp.MustCompile(`(^|[^$])\$\(([A-Za-z_][A-Za-z0-9_]*)\)`)

// value resolves a flag's value: a literal, or one $(VAR) whose env var is a literal or a
// ConfigMap key of these manifests. ok is false when it cannot be known here (a Secret or
// the downward API); ref then names the env var.
func (k *container) value(flag string) (v string, ref *corev1.EnvVar, ok bool) {
	v, set := k.args.flags[flag]
	if !set {
		return "", nil, false
	}
	mm := varRef.FindStringSubmatch(v)
	if mm == nil {
		return v, nil, true
	}
	e, defined := k.env[mm[1]]
	if !defined {
		return "", nil, false
	}
	if e.ValueFrom == nil {
		return e.Value, &e, true
	}
	if r := e.ValueFrom.ConfigMapKeyRef; r != nil {
		if cm := k.m.find("ConfigMap", r.Name); cm != nil {
			if s, has := cm.cm.Data[r.Key]; has {
				return s, &e, true
			}
		}
	}
	return "", &e, false
}

// checkContainers checks every container of a pod spec: images, resources, security,
// mounts and references to ConfigMaps and Secrets. It returns the first container, which
// runs kappa.
func (m *manifests) checkContainers(o *object, spec *corev1.PodSpec, claims map[string]bool) *container {
	if len(spec.Containers) == 0 {
		m.r.add(o, "pod template has no containers")
		return nil
	}
	m.checkVolumes(o, spec)
	if !falsePtr(spec.AutomountServiceAccountToken) {
		if sa := m.find("ServiceAccount", spec.ServiceAccountName); sa == nil || !falsePtr(sa.sa.AutomountServiceAccountToken) {
			m.r.add(o, "the pod mounts a service account token: set automountServiceAccountToken: false (kappa never calls the Kubernetes API)")
		}
	}
	if spec.ServiceAccountName != "" && m.find("ServiceAccount", spec.ServiceAccountName) == nil {
		m.r.add(o, "serviceAccountName %q: no such ServiceAccount in these manifests", spec.ServiceAccountName)
	}
	for i := range spec.Containers {
		m.checkContainer(o, spec, &spec.Containers[i], claims)
	}
	c := &spec.Containers[0]
	k := &container{m: m, o: o, spec: spec, c: c, claims: claims, env: map[string]corev1.EnvVar{}}
	for _, e := range c.Env {
		k.env[e.Name] = e
	}
	if len(c.Command) > 0 {
		m.r.add(o, "container %s: command is set; the image's entrypoint is kappa: give the subcommand and flags as args", c.Name)
	}
	var problems []string
	k.args, problems = parseArgs(c.Args)
	for _, p := range problems {
		m.r.add(o, "container %s: %s", c.Name, p)
	}
	// Kubernetes expands $(VAR) only for variables defined before in env; any other stays
	// literal text, so "--instance-id=$(POD_NAME)" without POD_NAME would be the id.
	defined := map[string]bool{}
	for _, e := range c.Env {
		defined[e.Name] = true
	}
	for _, arg := range c.Args {
		for _, mm := range anyVarRef.FindAllStringSubmatch(arg, -1) {
			if !defined[mm[2]] {
				m.r.add(o, "container %s: argument %q refers to $(%s), which env does not define: it would be passed literally", c.Name, arg, mm[2])
			}
		}
	}
	return k
}

func (m *manifests) checkContainer(o *object, spec *corev1.PodSpec, c *corev1.Container, claims map[string]bool) {
	bad := func(format string, args ...any) { m.r.add(o, "container %s: %s", c.Name, fmt.Sprintf(format, args...)) }
	for _, p := range validation.IsDNS1123Label(c.Name) {
		bad("name: %s", p)
	}
	switch ref := c.Image; {
	case ref == "":
		bad("image is not set")
	case !strings.Contains(ref, "@") && !strings.Contains(path.Base(ref), ":"):
		bad("image %q has no tag or digest: pin the version you deploy", ref)
	case strings.HasSuffix(ref, ":latest"):
		bad("image %q: pin a version, not latest", ref)
	}
	for _, r := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
		if _, ok := c.Resources.Requests[r]; !ok {
			bad("resources.requests.%s is not set", r)
		}
	}
	if _, ok := c.Resources.Limits[corev1.ResourceMemory]; !ok {
		bad("resources.limits.memory is not set")
	}
	sc := c.SecurityContext
	podNonRoot := spec.SecurityContext != nil && truePtr(spec.SecurityContext.RunAsNonRoot)
	if sc == nil {
		bad("no securityContext: set readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, capabilities.drop: [ALL]")
	} else {
		if !truePtr(sc.ReadOnlyRootFilesystem) {
			bad("securityContext.readOnlyRootFilesystem must be true")
		}
		if !falsePtr(sc.AllowPrivilegeEscalation) {
			bad("securityContext.allowPrivilegeEscalation must be false")
		}
		if truePtr(sc.Privileged) {
			bad("securityContext.privileged must not be true")
		}
		if sc.Capabilities == nil || !hasAll(sc.Capabilities.Drop) {
			bad("securityContext.capabilities.drop must hold ALL")
		}
		if sc.RunAsNonRoot != nil {
			podNonRoot = *sc.RunAsNonRoot
		}
	}
	if !podNonRoot {
		bad("does not run as non-root: set runAsNonRoot: true (pod or container securityContext)")
	}
	volumes := map[string]bool{}
	for _, v := range spec.Volumes {
		volumes[v.Name] = true
	}
	mounted := map[string]bool{}
	for _, vm := range c.VolumeMounts {
		if !volumes[vm.Name] && !claims[vm.Name] {
			bad("volumeMount %q: no volume or volumeClaimTemplate of that name", vm.Name)
		}
		if mounted[vm.MountPath] {
			bad("two volumes mounted at %s", vm.MountPath)
		}
		mounted[vm.MountPath] = true
		if !path.IsAbs(vm.MountPath) {
			bad("volumeMount %q: mountPath %q is not absolute", vm.Name, vm.MountPath)
		}
	}
	ports := map[string]bool{}
	for _, p := range c.Ports {
		if p.Name != "" {
			for _, msg := range validation.IsValidPortName(p.Name) {
				bad("port name %q: %s", p.Name, msg)
			}
			ports[p.Name] = true
		}
	}
	for _, e := range c.Env {
		for _, msg := range validation.IsEnvVarName(e.Name) {
			bad("env %q: %s", e.Name, msg)
		}
		if e.ValueFrom == nil {
			continue
		}
		if r := e.ValueFrom.ConfigMapKeyRef; r != nil && !truePtr(r.Optional) {
			m.needKey(o, "ConfigMap", r.Name, r.Key, "env "+e.Name)
		}
		if r := e.ValueFrom.SecretKeyRef; r != nil && !truePtr(r.Optional) {
			m.needKey(o, "Secret", r.Name, r.Key, "env "+e.Name)
		}
	}
}

// checkVolumes checks that ConfigMap and Secret volumes name objects and keys that exist.
func (m *manifests) checkVolumes(o *object, spec *corev1.PodSpec) {
	for _, v := range spec.Volumes {
		switch {
		case v.ConfigMap != nil && !truePtr(v.ConfigMap.Optional):
			m.needKey(o, "ConfigMap", v.ConfigMap.Name, "", "volume "+v.Name)
			for _, it := range v.ConfigMap.Items {
				m.needKey(o, "ConfigMap", v.ConfigMap.Name, it.Key, "volume "+v.Name)
			}
		case v.Secret != nil && !truePtr(v.Secret.Optional):
			m.needKey(o, "Secret", v.Secret.SecretName, "", "volume "+v.Name)
			for _, it := range v.Secret.Items {
				m.needKey(o, "Secret", v.Secret.SecretName, it.Key, "volume "+v.Name)
			}
		}
	}
}

// needKey reports a ConfigMap or Secret (and, unless key is "", a key of it) that these
// manifests do not hold.
func (m *manifests) needKey(o *object, kind, name, key, what string) {
	ref := m.find(kind, name)
	if ref == nil {
		m.r.add(o, "%s: no %s %q in these manifests", what, kind, name)
		return
	}
	if key != "" && !ref.hasKey(key) {
		m.r.add(o, "%s: %s %s has no key %q", what, kind, name, key)
	}
}

func (o *object) hasKey(key string) bool {
	switch {
	case o.cm != nil:
		_, a := o.cm.Data[key]
		_, b := o.cm.BinaryData[key]
		return a || b
	case o.secret != nil:
		_, a := o.secret.Data[key]
		_, b := o.secret.StringData[key]
		return a || b
	}
	return false
}

// fileOf returns the file of a ConfigMap or Secret key mounted at p, the absolute path of
// a file in the container.
type mountedFile struct {
	obj *object // the ConfigMap or Secret; nil for another kind of volume
	key string
	// volume is the volume's name; claim is true when it is a claim template's.
	volume string
	claim  bool
}

func (k *container) fileAt(p string) (mountedFile, error) {
	if !path.IsAbs(p) {
		return mountedFile{}, fmt.Errorf("%q is not an absolute path", p)
	}
	var best *corev1.VolumeMount
	for i, vm := range k.c.VolumeMounts {
		mp := strings.TrimSuffix(vm.MountPath, "/")
		if (p == mp || strings.HasPrefix(p, mp+"/")) && (best == nil || len(mp) > len(best.MountPath)) {
			best = &k.c.VolumeMounts[i]
		}
	}
	if best == nil {
		return mountedFile{}, fmt.Errorf("%s is on no volume mount (the root file system is read-only)", p)
	}
	rel := strings.TrimPrefix(strings.TrimPrefix(p, strings.TrimSuffix(best.MountPath, "/")), "/")
	if best.SubPath != "" {
		rel = path.Join(best.SubPath, rel)
	}
	if k.claims[best.Name] {
		return mountedFile{volume: best.Name, claim: true}, nil
	}
	for _, v := range k.spec.Volumes {
		if v.Name != best.Name {
			continue
		}
		var kind, name string
		var items []corev1.KeyToPath
		switch {
		case v.ConfigMap != nil:
			kind, name, items = "ConfigMap", v.ConfigMap.Name, v.ConfigMap.Items
		case v.Secret != nil:
			kind, name, items = "Secret", v.Secret.SecretName, v.Secret.Items
		default:
			return mountedFile{volume: v.Name}, nil
		}
		key := rel
		if len(items) > 0 {
			key = ""
			for _, it := range items {
				if it.Path == rel {
					key = it.Key
				}
			}
			if key == "" {
				return mountedFile{}, fmt.Errorf("%s: volume %s (%s %s) lists no item with path %q", p, v.Name, kind, name, rel)
			}
		}
		obj := k.m.find(kind, name)
		if obj == nil {
			return mountedFile{}, fmt.Errorf("%s: volume %s: no %s %q in these manifests", p, v.Name, kind, name)
		}
		if !obj.hasKey(key) {
			return mountedFile{}, fmt.Errorf("%s: %s %s has no key %q", p, kind, name, key)
		}
		return mountedFile{obj: obj, key: key, volume: v.Name}, nil
	}
	return mountedFile{}, fmt.Errorf("%s: mount %q names no volume", p, best.Name)
}

// containerPort resolves a probe's or Service's port (a number or a port name).
func containerPort(c *corev1.Container, p intstr.IntOrString) (int, bool) {
	if p.Type == intstr.Int {
		return int(p.IntVal), true
	}
	for _, cp := range c.Ports {
		if cp.Name == p.StrVal {
			return int(cp.ContainerPort), true
		}
	}
	return 0, false
}

// adminPort is the port of --admin-addr (default :9464).
func (k *container) adminPort() (int, error) {
	addr, ok := k.args.flags["admin-addr"]
	if !ok {
		addr = ":9464"
	}
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return 0, fmt.Errorf("--admin-addr %q: %w", addr, err)
	}
	n, err := strconv.Atoi(port)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("--admin-addr %q: the port must be a fixed number for probes and scraping", addr)
	}
	return n, nil
}

func truePtr(b *bool) bool  { return b != nil && *b }
func falsePtr(b *bool) bool { return b != nil && !*b }

func hasAll(caps []corev1.Capability) bool {
	for _, c := range caps {
		if c == "ALL" {
			return true
		}
	}
	return false
}
