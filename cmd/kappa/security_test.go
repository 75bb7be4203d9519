package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/kappa-stream/kappa/internal/gen"
	"github.com/kappa-stream/kappa/internal/kafkaconf"
	"github.com/kappa-stream/kappa/internal/kafkatest"
	"github.com/kappa-stream/kappa/models"
	"github.com/kappa-stream/kappa/pipeline"
	"github.com/kappa-stream/kappa/processor"
)

const (
	secUser = "kappa-svc"
	// secPassword is distinctive, so the no-secrets test can search for it anywhere.
	secPassword = "s3cret-Hunter2-9f4c71d0e2"
)

// secureBroker starts an in-process broker that takes only TLS connections (requiring a
// client certificate when mtls) and authenticates mechanism's superuser secUser. It returns
// the broker, whose own clients connect with the right settings, and the Kafka settings of
// a `kappa run` against it.
func secureBroker(t *testing.T, mechanism string, mtls bool) (*kafkatest.Broker, kafkaconf.Config) {
	t.Helper()
	pki := kafkatest.NewPKI(t)
	b := kafkatest.NewInProcess(t,
		kfake.TLS(pki.ServerConfig(mtls)),
		kfake.EnableSASL(),
		kfake.Superuser(mechanism, secUser, secPassword),
	)
	cfg := kafkaconf.Config{CAFile: pki.CAFile, Mechanism: mechanism, Username: secUser, Password: secPassword}
	if mtls {
		cfg.CertFile, cfg.KeyFile = pki.CertFile, pki.KeyFile
	}
	opts, err := cfg.Opts()
	if err != nil {
		t.Fatalf("kafka options: %v", err)
	}
	b.ClientOpts = opts
	return b, cfg
}

// TestSecurityPipeline: an exactly-once aggregate pipeline over TLS with each SASL
// mechanism (the last over mutual TLS, a broker that refuses clients without a certificate
// its CA signed) ends with a clean verdict. Every client of the run, the admin, the group
// member and the changelog reader, has to get through, and so do the verifier's.
func TestSecurityPipeline(t *testing.T) {
	for _, tc := range []struct {
		mechanism string
		mtls      bool
	}{
		{kafkaconf.MechanismPlain, false},
		{kafkaconf.MechanismSCRAM256, false},
		{kafkaconf.MechanismSCRAM512, true},
	} {
		name := tc.mechanism + "/tls"
		if tc.mtls {
			name = tc.mechanism + "/mtls"
		}
		t.Run(name, func(t *testing.T) {
			b, sec := secureBroker(t, tc.mechanism, tc.mtls)
			input := b.CreateTopic(2, nil)
			def := testDefinition(t, kafkatest.Name(t, "sec"), input, true, 50*time.Millisecond)
			in := newInput(t, b, input, gen.Cards{Seed: 7, Partitions: 2, Cards: 40, BadEvery: 101})
			f := testFlags(b.Addrs, "sec", t.TempDir())
			f.kafka = sec
			r := startPipelineFlags(t, def, f, zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel)))
			in.produce(400)
			select {
			case <-r.proc:
			case <-r.done:
				t.Fatalf("pipeline stopped before starting: %v", r.err)
			}
			verdictOf(t, b, def, in.produced, nil)
			if err := r.stop(t); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestSecurityModelsTopic: the models watcher of a score operator reads its models topic
// over TLS and SASL too; without the settings the model would not load and the run would
// not start.
func TestSecurityModelsTopic(t *testing.T) {
	b, sec := secureBroker(t, kafkaconf.MechanismSCRAM512, false)
	in := b.CreateTopic(1, nil)
	modelsTopic := b.CreateTopic(1, map[string]*string{"cleanup.policy": ptr("compact")})
	r := &kgo.Record{
		Topic: modelsTopic, Key: []byte("fraud"), Value: linearModelFile(-2, 0.01, 0.2),
		Headers: []kgo.RecordHeader{{Key: models.VersionHeader, Value: []byte("v1")}},
	}
	if err := b.Client().ProduceSync(context.Background(), r).FirstErr(); err != nil {
		t.Fatal(err)
	}
	def := testDefinition(t, kafkatest.Name(t, "models"), in, true, 50*time.Millisecond)
	def.Operators = []pipeline.Operator{{Score: &pipeline.Score{
		Model: pipeline.ModelRef{Topic: modelsTopic, Name: "fraud"}, Features: []string{"amount", "count"},
	}}}
	def.ApplyDefaults()
	if err := def.Validate(); err != nil {
		t.Fatal(err)
	}
	f := testFlags(b.Addrs, "models", t.TempDir())
	f.kafka = sec
	run := startPipelineFlags(t, def, f, zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel)))
	select {
	case <-run.proc:
	case <-run.done:
		t.Fatalf("pipeline did not start: %v", run.err)
	}
	if err := run.stop(t); err != nil {
		t.Fatal(err)
	}
}

// TestSecurityMisconfigured: wrong credentials and mismatched TLS end `kappa run` at its
// first request with an error naming the setting to check, instead of retrying. The bound
// on the run (20s) is far below the setup timeout (1m) a retrying client would hit.
func TestSecurityMisconfigured(t *testing.T) {
	for _, tc := range []struct {
		name      string
		mechanism string
		mtls      bool
		change    func(*kafkaconf.Config)
		want      string
	}{
		{
			"wrong password PLAIN", kafkaconf.MechanismPlain, false,
			func(c *kafkaconf.Config) { c.Password = "wrong-password-1" },
			`kafka: SASL authentication failed for user "kappa-svc" (mechanism PLAIN): check the username and $KAPPA_KAFKA_SASL_PASSWORD`,
		},
		{
			"wrong password SCRAM-SHA-256", kafkaconf.MechanismSCRAM256, false,
			func(c *kafkaconf.Config) { c.Password = "wrong-password-2" },
			`kafka: SASL authentication failed for user "kappa-svc" (mechanism SCRAM-SHA-256): check the username and $KAPPA_KAFKA_SASL_PASSWORD`,
		},
		{
			"wrong user SCRAM-SHA-512", kafkaconf.MechanismSCRAM512, false,
			func(c *kafkaconf.Config) { c.Username = "nobody" },
			`kafka: SASL authentication failed for user "nobody" (mechanism SCRAM-SHA-512)`,
		},
		{
			"wrong mechanism", kafkaconf.MechanismSCRAM512, false,
			func(c *kafkaconf.Config) { c.Mechanism = kafkaconf.MechanismSCRAM256 },
			`kafka: SASL authentication failed for user "kappa-svc" (mechanism SCRAM-SHA-256)`,
		},
		{
			"SASL missing", kafkaconf.MechanismSCRAM256, false,
			func(c *kafkaconf.Config) { c.Mechanism, c.Username, c.Password = "", "", "" },
			"kafka: the broker closed the connection at once: it may require SASL (--kafka-sasl-mechanism)",
		},
		{
			"CA not given", kafkaconf.MechanismPlain, false,
			func(c *kafkaconf.Config) { c.CAFile, c.TLS = "", true },
			"kafka: TLS: the broker's certificate is not trusted: check --kafka-tls-ca-file",
		},
		{
			"client certificate missing", kafkaconf.MechanismPlain, true,
			func(c *kafkaconf.Config) { c.CertFile, c.KeyFile = "", "" },
			"kafka: the broker refused the TLS connection: it may require a client certificate",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, sec := secureBroker(t, tc.mechanism, tc.mtls)
			tc.change(&sec)
			def := testDefinition(t, kafkatest.Name(t, "bad"), "in", true, 50*time.Millisecond)
			f := testFlags(b.Addrs, "bad", t.TempDir())
			f.kafka = sec
			var logs lockedBuffer
			log, err := newLogger("debug", &logs)
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			start := time.Now()
			_, err = runPipeline(ctx, def, f, log, nil)
			t.Logf("runPipeline returned after %s: %v", time.Since(start).Round(time.Millisecond), err)
			switch {
			case err == nil:
				t.Fatal("runPipeline succeeded, want an error")
			case errors.Is(err, context.DeadlineExceeded) || ctx.Err() != nil:
				t.Fatalf("runPipeline ran into the test's bound (it kept retrying): %v", err)
			case !strings.Contains(err.Error(), tc.want):
				t.Fatalf("got error %q, want it to contain %q", err, tc.want)
			}
			for _, s := range []string{secPassword, "wrong-password-1", "wrong-password-2"} {
				if strings.Contains(err.Error(), s) || strings.Contains(logs.String(), s) {
					t.Errorf("the error or the logs contain the password %q", s)
				}
			}
		})
	}
}

// TestSecretsNeverShown: a run over mutual TLS and SCRAM with a distinctive password, logging
// at debug level, shows neither the password nor the client key's PEM body in any log line
// or in /metrics; nor do the errors of bad settings, nor `kappa run`'s help and flag errors.
func TestSecretsNeverShown(t *testing.T) {
	b, sec := secureBroker(t, kafkaconf.MechanismSCRAM256, true)
	keyPEM, err := os.ReadFile(sec.KeyFile)
	if err != nil {
		t.Fatal(err)
	}
	secrets := map[string]string{"password": secPassword}
	for i, line := range strings.Split(strings.TrimSpace(string(keyPEM)), "\n") {
		if !strings.HasPrefix(line, "-----") {
			secrets[fmt.Sprintf("key PEM line %d", i)] = line
		}
	}
	check := func(where, text string) {
		t.Helper()
		for what, s := range secrets {
			if strings.Contains(text, s) {
				t.Errorf("%s contains the %s", where, what)
			}
		}
	}

	t.Run("run", func(t *testing.T) {
		input := b.CreateTopic(2, nil)
		def := testDefinition(t, kafkatest.Name(t, "secret"), input, true, 50*time.Millisecond)
		in := newInput(t, b, input, gen.Cards{Seed: 9, Partitions: 2, Cards: 20, BadEvery: 50})
		in.produce(200)
		f := testFlags(b.Addrs, "secret", t.TempDir())
		f.kafka = sec
		f.adminAddr = "127.0.0.1:0"
		var logs lockedBuffer
		log, err := newLogger("debug", &logs)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		addrc := make(chan net.Addr, 1)
		done := make(chan error, 1)
		go func() {
			_, err := runPipeline(ctx, def, f, log, &pipelineHooks{started: func(_ *processor.Processor, _ func() int64, a net.Addr) { addrc <- a }})
			done <- err
		}()
		var addr net.Addr
		select {
		case addr = <-addrc:
		case err := <-done:
			t.Fatalf("pipeline did not start: %v", err)
		}
		verdictOf(t, b, def, in.produced, nil) // the run has done real work: commits, restores checked
		metrics := scrape(t, "http://"+addr.String()+"/metrics")
		if !strings.Contains(metrics, "kappa_kafka_") {
			t.Fatalf("/metrics has no franz-go client metrics (kappa_kafka_*); the scrape is not of a working run:\n%.2000s", metrics)
		}
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		out := logs.String()
		if !strings.Contains(out, `"kafka_security":"mtls sasl=SCRAM-SHA-256 user=kappa-svc"`) {
			t.Errorf("the start-up log does not describe the Kafka security settings:\n%s", out)
		}
		t.Logf("checked %d bytes of logs and %d bytes of metrics", len(out), len(metrics))
		check("the logs", out)
		check("/metrics", metrics)
		check("the flags' description", sec.Describe())
	})

	t.Run("config errors", func(t *testing.T) {
		dir := t.TempDir()
		pwFile := filepath.Join(dir, "password")
		if err := os.WriteFile(pwFile, []byte(secPassword+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		for name, c := range map[string]kafkaconf.Config{
			"cert without key":    {CertFile: sec.CertFile, Mechanism: "PLAIN", Username: "u", Password: secPassword},
			"key without cert":    {KeyFile: sec.KeyFile, Mechanism: "PLAIN", Username: "u", Password: secPassword},
			"key as cert":         {CertFile: sec.KeyFile, KeyFile: sec.KeyFile},
			"key as CA":           {CAFile: sec.KeyFile},
			"mismatched key":      {CertFile: sec.CAFile, KeyFile: sec.KeyFile},
			"unknown mechanism":   {Mechanism: "GSSAPI", Username: "u", Password: secPassword},
			"password file as CA": {CAFile: pwFile},
			"no user":             {Mechanism: "SCRAM-SHA-512", PasswordFile: pwFile},
		} {
			_, err := c.Opts()
			if err == nil {
				t.Errorf("%s: Opts succeeded, want an error", name)
				continue
			}
			t.Logf("%s: %v", name, err)
			check(name+": the error", err.Error())
			check(name+": the formatted config", strings.Join([]string{
				fmt.Sprintf("%v", c), fmt.Sprintf("%+v", c), fmt.Sprintf("%#v", c),
			}, "\n"))
		}
	})

	t.Run("command line", func(t *testing.T) {
		t.Setenv(kafkaconf.EnvPassword, secPassword)
		for _, args := range [][]string{
			{"--kafka-sasl-password=" + secPassword, "-f", "x.yaml"},
			{"-kafka-sasl-password", secPassword},
			{"-h"},
			{"--no-such-flag=" + "x"},
		} {
			var stderr bytes.Buffer
			err := runRun(context.Background(), args, io.Discard, &stderr)
			msg := stderr.String()
			if err != nil {
				msg += err.Error()
			}
			check("kappa run "+args[0]+": the output", msg)
			if strings.HasPrefix(args[0], "-kafka-sasl-password") || strings.HasPrefix(args[0], "--kafka-sasl-password") {
				if err == nil || !strings.Contains(err.Error(), "is not accepted") {
					t.Errorf("kappa run %s: got %v, want the password flag refused", args[0], err)
				}
			}
		}
	})
}

func scrape(t *testing.T, url string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("scrape %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("scrape %s: status %d, %v", url, resp.StatusCode, err)
	}
	return string(body)
}

// lockedBuffer is a bytes.Buffer safe for the logger's writers and the test's reads.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
