package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8syaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"
)

// object is one decoded YAML document.
type object struct {
	file  string // as given on the command line's directory, e.g. deploy/k8s/pdb.yaml
	index int    // 1-based position of the document in its file
	kind  string
	name  string
	// Exactly one of these is set, by kind.
	sts     *appsv1.StatefulSet
	svc     *corev1.Service
	cm      *corev1.ConfigMap
	secret  *corev1.Secret
	sa      *corev1.ServiceAccount
	pdb     *policyv1.PodDisruptionBudget
	job     *batchv1.Job
	monitor map[string]any
	kust    *kustomization
}

// kustomization holds the fields of a kustomize.config.k8s.io/v1beta1 Kustomization that
// these manifests may use; any other field is reported, so a typo does not pass silently.
type kustomization struct {
	APIVersion        string            `json:"apiVersion"`
	Kind              string            `json:"kind"`
	Metadata          map[string]any    `json:"metadata,omitempty"`
	Namespace         string            `json:"namespace,omitempty"`
	NamePrefix        string            `json:"namePrefix,omitempty"`
	NameSuffix        string            `json:"nameSuffix,omitempty"`
	CommonAnnotations map[string]string `json:"commonAnnotations,omitempty"`
	Labels            []map[string]any  `json:"labels,omitempty"`
	Resources         []string          `json:"resources"`
	Components        []string          `json:"components,omitempty"`
	Images            []struct {
		Name    string `json:"name"`
		NewName string `json:"newName,omitempty"`
		NewTag  string `json:"newTag,omitempty"`
		Digest  string `json:"digest,omitempty"`
	} `json:"images,omitempty"`
	Patches []map[string]any `json:"patches,omitempty"`
}

// kinds maps "apiVersion kind" to a decoder into a fresh typed object.
var kinds = map[string]func(o *object) any{
	"apps/v1 StatefulSet":           func(o *object) any { o.sts = &appsv1.StatefulSet{}; return o.sts },
	"v1 Service":                    func(o *object) any { o.svc = &corev1.Service{}; return o.svc },
	"v1 ConfigMap":                  func(o *object) any { o.cm = &corev1.ConfigMap{}; return o.cm },
	"v1 Secret":                     func(o *object) any { o.secret = &corev1.Secret{}; return o.secret },
	"v1 ServiceAccount":             func(o *object) any { o.sa = &corev1.ServiceAccount{}; return o.sa },
	"policy/v1 PodDisruptionBudget": func(o *object) any { o.pdb = &policyv1.PodDisruptionBudget{}; return o.pdb },
	"batch/v1 Job":                  func(o *object) any { o.job = &batchv1.Job{}; return o.job },
	"monitoring.coreos.com/v1 ServiceMonitor": func(o *object) any {
		o.monitor = map[string]any{}
		return &o.monitor
	},
	"kustomize.config.k8s.io/v1beta1 Kustomization": func(o *object) any { o.kust = &kustomization{}; return o.kust },
}

// manifestFiles lists the YAML files under dir, sorted.
func manifestFiles(dir string) ([]string, error) {
	var files []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && (strings.HasSuffix(path, ".yaml") || strings.HasSuffix(path, ".yml")) {
			files = append(files, path)
		}
		return nil
	})
	slices.Sort(files)
	return files, err
}

// load decodes every document of every file. A document that cannot be decoded becomes a
// problem; the rest are returned.
func load(files []string, r *report) ([]*object, error) {
	var objs []*object
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			return nil, err
		}
		docs, err := splitDocuments(data)
		if err != nil {
			r.addf(file, 0, "not YAML: %v", err)
			continue
		}
		for i, doc := range docs {
			if o := decode(file, i+1, doc, r); o != nil {
				objs = append(objs, o)
			}
		}
	}
	return objs, nil
}

// splitDocuments splits a multi-document YAML stream at its "---" lines. Documents that
// hold only comments are kept (as nil) so that indexes match what an editor shows.
func splitDocuments(data []byte) ([][]byte, error) {
	rd := k8syaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	var docs [][]byte
	for {
		doc, err := rd.Read()
		if errors.Is(err, io.EOF) {
			return docs, nil
		}
		if err != nil {
			return nil, err
		}
		j, err := yaml.YAMLToJSON(doc)
		if err != nil {
			return nil, err
		}
		if string(bytes.TrimSpace(j)) == "null" {
			doc = nil
		}
		docs = append(docs, doc)
	}
}

// decode reads one document strictly into the type its apiVersion and kind name.
func decode(file string, index int, doc []byte, r *report) *object {
	if doc == nil {
		return nil
	}
	o := &object{file: file, index: index}
	var tm metav1.TypeMeta
	if err := yaml.Unmarshal(doc, &tm); err != nil {
		r.add(o, "not a Kubernetes object: %v", err)
		return nil
	}
	o.kind = tm.Kind
	newObj, ok := kinds[tm.APIVersion+" "+tm.Kind]
	if !ok {
		r.add(o, "unexpected apiVersion %q and kind %q: this directory holds only %s",
			tm.APIVersion, tm.Kind, strings.Join(slices.Sorted(maps.Keys(kinds)), ", "))
		return nil
	}
	if err := yaml.UnmarshalStrict(doc, newObj(o)); err != nil {
		r.add(o, "does not decode strictly into %s %s: %v", tm.APIVersion, tm.Kind, err)
		return nil
	}
	o.name = o.meta().Name
	return o
}

// meta returns the object's metadata; for unstructured and kustomize documents a copy of
// the fields read.
func (o *object) meta() metav1.ObjectMeta {
	switch {
	case o.sts != nil:
		return o.sts.ObjectMeta
	case o.svc != nil:
		return o.svc.ObjectMeta
	case o.cm != nil:
		return o.cm.ObjectMeta
	case o.secret != nil:
		return o.secret.ObjectMeta
	case o.sa != nil:
		return o.sa.ObjectMeta
	case o.pdb != nil:
		return o.pdb.ObjectMeta
	case o.job != nil:
		return o.job.ObjectMeta
	case o.monitor != nil:
		var m metav1.ObjectMeta
		if md, ok := o.monitor["metadata"]; ok {
			j, err := yaml.Marshal(md)
			if err == nil {
				_ = yaml.Unmarshal(j, &m)
			}
		}
		return m
	}
	return metav1.ObjectMeta{}
}

// report collects problems as "file:document: kind name: what".
type report struct{ problems []string }

func (r *report) add(o *object, format string, args ...any) {
	what := fmt.Sprintf(format, args...)
	switch {
	case o.kind != "" && o.name != "":
		what = o.kind + " " + o.name + ": " + what
	case o.kind != "":
		what = o.kind + ": " + what
	}
	r.addf(o.file, o.index, "%s", what)
}

func (r *report) addf(file string, index int, format string, args ...any) {
	r.problems = append(r.problems, fmt.Sprintf("%s:%d: %s", file, index, fmt.Sprintf(format, args...)))
}
