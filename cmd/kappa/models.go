package main

import (
	"context"
	"fmt"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/zap"

	"github.com/kappa-stream/kappa/models"
	"github.com/kappa-stream/kappa/pipeline"
	"github.com/kappa-stream/kappa/processor"
	"github.com/kappa-stream/kappa/score"
)

// modelSource shows a models.Holder to the processor.
type modelSource struct{ h *models.Holder }

func (s modelSource) Current() (score.Model, string, string) {
	v := s.h.Load()
	if v == nil {
		return nil, "", ""
	}
	return v.Model, v.Name, v.Version
}

// startModels loads the models of the pipeline's score operator, if it has one, and keeps
// watching their files or topics until stop is called (stop waits for the watchers).
// kafkaOpts (seed brokers, TLS, SASL) are the models topics' client options. A model that
// cannot be loaded at the start is an error: the pipeline must not run without it. The
// watchers outlive ctx's cancellation, so that the processor keeps its models while it
// finishes its last transaction; stop ends them.
func startModels(ctx context.Context, def *pipeline.Definition, kafkaOpts []kgo.Opt, reg prometheus.Registerer,
	log *zap.Logger,
) (primary, shadow processor.ModelSource, stop func(), err error) {
	var wg sync.WaitGroup
	ctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	stop = func() { cancel(); wg.Wait() }
	primary, shadow, err = watchModels(ctx, def, kafkaOpts, reg, log, &wg)
	if err != nil {
		stop()
		return nil, nil, nil, err
	}
	return primary, shadow, stop, nil
}

// watchModels starts the watchers of startModels; wg waits for them.
func watchModels(ctx context.Context, def *pipeline.Definition, kafkaOpts []kgo.Opt, reg prometheus.Registerer,
	log *zap.Logger, wg *sync.WaitGroup,
) (primary, shadow processor.ModelSource, err error) {
	sc := def.ScoreOp()
	if sc == nil {
		return nil, nil, nil
	}
	m, err := models.NewMetrics(reg)
	if err != nil {
		return nil, nil, err
	}
	start := func(ref *pipeline.ModelRef, role string) (processor.ModelSource, error) {
		var h *models.Holder
		var run func(context.Context) error
		if ref.File != "" {
			w, err := models.NewFileWatcher(models.FileConfig{
				Path: ref.File, Name: ref.Name, Version: ref.Version, Role: role,
				Features: sc.Features, Logger: log, Metrics: m,
			})
			if err != nil {
				return nil, err
			}
			h, run = w.Holder(), w.Run
		} else {
			w, err := models.NewTopicWatcher(ctx, models.TopicConfig{
				Topic: ref.Topic, Name: ref.Name, Version: ref.Version, Role: role,
				Features: sc.Features, Kafka: kafkaOpts, Logger: log, Metrics: m,
			})
			if err != nil {
				return nil, err
			}
			h, run = w.Holder(), w.Run
		}
		v := h.Load()
		log.Info("model loaded", zap.String("role", role), zap.String("model", v.Name), zap.String("version", v.Version),
			zap.String("kind", v.Model.Kind()), zap.String("objective", v.Model.Objective()))
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := run(ctx); err != nil && ctx.Err() == nil {
				log.Error("model watcher stopped; the model in use stays", zap.String("role", role), zap.Error(err))
			}
		}()
		return modelSource{h}, nil
	}
	if primary, err = start(&sc.Model, models.RolePrimary); err != nil {
		return nil, nil, fmt.Errorf("model: %w", err)
	}
	if sc.Shadow != nil {
		if shadow, err = start(sc.Shadow, models.RoleShadow); err != nil {
			return nil, nil, fmt.Errorf("shadow model: %w", err)
		}
	}
	return primary, shadow, nil
}
