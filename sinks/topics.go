package sinks

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/kappa-stream/kappa/pipeline"
)

// Topics names the topics of a pipeline.
type Topics struct {
	Inputs     []string
	Output     string
	Changelog  string
	DeadLetter string
	// Late is the late-record topic of a window pipeline; empty for the others.
	Late string
	// Alerts is the alert topic of a score operator; empty for none. It is created like the
	// output topic.
	Alerts string
	// Drift is the drift topic of a pipeline with quality.drift; empty for none. It is
	// created like the output topic.
	Drift string
}

// TopicsOf names the topics of def: the late topic with a window operator, the alert topic
// with a score alert, the drift topic with quality.drift.
func TopicsOf(def *pipeline.Definition) Topics {
	t := Topics{
		Inputs: def.Input.Topics, Output: def.Output.Topic,
		Changelog: def.ChangelogTopic(), DeadLetter: def.DeadLetterTopic(),
	}
	if def.HasWindow() {
		t.Late = def.LateTopic()
	}
	if sc := def.ScoreOp(); sc != nil && sc.Alert != nil {
		t.Alerts = sc.Alert.Topic
	}
	if def.HasDrift() {
		t.Drift = def.DriftTopic()
	}
	return t
}

// Written are the topics the pipeline writes other than its changelog: output, dead
// letters, and the late, alert and drift topics it has.
func (t Topics) Written() []string {
	ts := []string{t.Output, t.DeadLetter}
	for _, extra := range []string{t.Late, t.Alerts, t.Drift} {
		if extra != "" {
			ts = append(ts, extra)
		}
	}
	return ts
}

// EnsureTopics checks the input topics and creates the output, changelog, dead-letter and
// late topics that are missing, each with the inputs' partition count (outputs keep the
// input partition). The changelog is compacted; the dead-letter and late topics, which take
// input records unchanged, take records as large as the inputs do. It returns the
// partition count.
//
// It fails when an input is missing, when the inputs differ in partition count (their
// partition p is processed as one task), when an existing output topic has fewer partitions
// than the inputs, or when an existing changelog has another partition count or is not
// compacted.
func EnsureTopics(ctx context.Context, adm *kadm.Client, t Topics) (int32, error) {
	all := append(append(append([]string(nil), t.Inputs...), t.Changelog), t.Written()...)
	details, err := adm.ListTopics(ctx, all...)
	if err != nil {
		return 0, fmt.Errorf("sinks: list topics: %w", err)
	}
	partitionsOf := func(topic string) (int32, bool, error) {
		d, ok := details[topic]
		switch {
		case !ok || errors.Is(d.Err, kerr.UnknownTopicOrPartition):
			return 0, false, nil
		case d.Err != nil:
			return 0, false, fmt.Errorf("sinks: describe topic %s: %w", topic, d.Err)
		}
		return int32(len(d.Partitions)), true, nil
	}

	var n int32
	for _, in := range t.Inputs {
		p, ok, err := partitionsOf(in)
		switch {
		case err != nil:
			return 0, err
		case !ok:
			return 0, fmt.Errorf("sinks: input topic %q does not exist; create it or fix input.topics in the pipeline", in)
		case n != 0 && p != n:
			return 0, fmt.Errorf("sinks: input topics differ in partition count (%q has %d, %q has %d); inputs must be co-partitioned",
				t.Inputs[0], n, in, p)
		}
		n = p
	}

	for _, c := range []struct{ topic, what string }{{t.Output, "output"}, {t.Alerts, "alert"}, {t.Drift, "drift"}} {
		if c.topic == "" {
			continue
		}
		if p, ok, err := partitionsOf(c.topic); err != nil {
			return 0, err
		} else if ok && p < n {
			return 0, fmt.Errorf("sinks: %s topic %q has %d partitions, fewer than the inputs' %d; outputs keep the input partition", c.what, c.topic, p, n)
		} else if !ok {
			if err := create(ctx, adm, c.topic, n, nil); err != nil {
				return 0, err
			}
		}
	}

	compact := "compact"
	if p, ok, err := partitionsOf(t.Changelog); err != nil {
		return 0, err
	} else if ok {
		if p != n {
			return 0, fmt.Errorf("sinks: changelog topic %q has %d partitions, want %d (the inputs'); delete it and the state directories to rebuild", t.Changelog, p, n)
		}
		cfgs, err := adm.DescribeTopicConfigs(ctx, t.Changelog)
		if err != nil {
			return 0, fmt.Errorf("sinks: describe configs of %s: %w", t.Changelog, err)
		}
		for _, rc := range cfgs {
			for _, c := range rc.Configs {
				if c.Key == "cleanup.policy" && c.Value != nil && !strings.Contains(*c.Value, "compact") {
					return 0, fmt.Errorf("sinks: changelog topic %q has cleanup.policy=%s; it must be compacted", t.Changelog, *c.Value)
				}
			}
		}
	} else if err := create(ctx, adm, t.Changelog, n, map[string]*string{"cleanup.policy": &compact}); err != nil {
		return 0, err
	}

	// Dead letters and late records are input records, unchanged: their topics must take
	// records as large as any input topic does.
	copyConfigs := map[string]*string{}
	if m, err := MaxMessageBytes(ctx, adm, t.Inputs...); err != nil {
		return 0, err
	} else if m > 0 {
		v := strconv.Itoa(int(m))
		copyConfigs["max.message.bytes"] = &v
	}
	for _, c := range []struct{ topic, what string }{{t.DeadLetter, "dead-letter"}, {t.Late, "late-record"}} {
		if c.topic == "" {
			continue
		}
		if p, ok, err := partitionsOf(c.topic); err != nil {
			return 0, err
		} else if ok && p < n {
			return 0, fmt.Errorf("sinks: %s topic %q has %d partitions, fewer than the inputs' %d; its records keep the input partition: add partitions to it", c.what, c.topic, p, n)
		} else if !ok {
			if err := create(ctx, adm, c.topic, n, copyConfigs); err != nil {
				return 0, err
			}
		}
	}
	return n, nil
}

// MaxMessageBytes returns the largest max.message.bytes of topics (the largest record batch
// they accept), or 0 when none reports one.
func MaxMessageBytes(ctx context.Context, adm *kadm.Client, topics ...string) (int32, error) {
	cfgs, err := adm.DescribeTopicConfigs(ctx, topics...)
	if err != nil {
		return 0, fmt.Errorf("sinks: describe configs of %s: %w", strings.Join(topics, ", "), err)
	}
	var m int32
	for _, rc := range cfgs {
		if rc.Err != nil {
			return 0, fmt.Errorf("sinks: describe configs of %s: %w", rc.Name, rc.Err)
		}
		for _, c := range rc.Configs {
			if c.Key != "max.message.bytes" || c.Value == nil {
				continue
			}
			v, err := strconv.ParseInt(*c.Value, 10, 32)
			if err != nil {
				return 0, fmt.Errorf("sinks: %s has max.message.bytes=%q: %w", rc.Name, *c.Value, err)
			}
			m = max(m, int32(v))
		}
	}
	return m, nil
}

func create(ctx context.Context, adm *kadm.Client, topic string, partitions int32, configs map[string]*string) error {
	resp, err := adm.CreateTopic(ctx, partitions, -1, configs, topic)
	if err == nil {
		err = resp.Err
	}
	if err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
		return fmt.Errorf("sinks: create topic %s: %w", topic, err)
	}
	return nil
}
