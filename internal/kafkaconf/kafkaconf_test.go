package kafkaconf_test

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kappa-stream/kappa/internal/kafkaconf"
	"github.com/kappa-stream/kappa/internal/kafkatest"
)

const password = "pw-7c1e4b0a-distinctive"

func ExampleConfig() {
	c := kafkaconf.Config{TLS: true, Mechanism: "SCRAM-SHA-512", Username: "kappa", Password: "from-a-secret"}
	opts, err := c.Opts() // give them to every kgo.NewClient, after kgo.SeedBrokers
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(len(opts), c.Describe())
	fmt.Printf("%+v\n", c)
	// Output:
	// 2 tls sasl=SCRAM-SHA-512 user=kappa
	// {TLS:true CAFile: CertFile: KeyFile: ServerName: Mechanism:SCRAM-SHA-512 Username:kappa PasswordFile: Password:[redacted]}
}

func TestOpts(t *testing.T) {
	pki := kafkatest.NewPKI(t)
	dir := t.TempDir()
	pwFile := filepath.Join(dir, "pw")
	if err := os.WriteFile(pwFile, []byte(password+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "missing.pem")
	for _, tc := range []struct {
		name     string
		cfg      kafkaconf.Config
		env      string // $KAPPA_KAFKA_SASL_PASSWORD
		wantOpts int
		wantErr  string
	}{
		{name: "plaintext", cfg: kafkaconf.Config{}, wantOpts: 0},
		{name: "tls system roots", cfg: kafkaconf.Config{TLS: true}, wantOpts: 1},
		{name: "ca implies tls", cfg: kafkaconf.Config{CAFile: pki.CAFile}, wantOpts: 1},
		{name: "mtls", cfg: kafkaconf.Config{CAFile: pki.CAFile, CertFile: pki.CertFile, KeyFile: pki.KeyFile}, wantOpts: 1},
		{name: "plain from env", cfg: kafkaconf.Config{Mechanism: "plain", Username: "u"}, env: password, wantOpts: 1},
		{name: "scram from file", cfg: kafkaconf.Config{Mechanism: "SCRAM-SHA-256", Username: "u", PasswordFile: pwFile}, wantOpts: 1},
		{name: "tls and scram", cfg: kafkaconf.Config{TLS: true, Mechanism: "SCRAM-SHA-512", Username: "u", Password: password}, wantOpts: 2},
		{
			name: "unreadable ca", cfg: kafkaconf.Config{CAFile: missing},
			wantErr: "kafka: --kafka-tls-ca-file: read " + missing + ": no such file or directory",
		},
		{
			name: "ca without certificates", cfg: kafkaconf.Config{CAFile: pki.KeyFile},
			wantErr: "kafka: --kafka-tls-ca-file: " + pki.KeyFile + " holds no PEM certificate",
		},
		{
			name: "cert without key", cfg: kafkaconf.Config{CertFile: pki.CertFile},
			wantErr: "kafka: --kafka-tls-cert-file needs --kafka-tls-key-file (mutual TLS takes both)",
		},
		{
			name: "key without cert", cfg: kafkaconf.Config{KeyFile: pki.KeyFile},
			wantErr: "kafka: --kafka-tls-key-file needs --kafka-tls-cert-file (mutual TLS takes both)",
		},
		{
			name: "missing key file", cfg: kafkaconf.Config{CertFile: pki.CertFile, KeyFile: missing},
			wantErr: "kafka: --kafka-tls-key-file: " + missing + ": no such file or directory",
		},
		{
			name: "mismatched pair", cfg: kafkaconf.Config{CertFile: pki.CAFile, KeyFile: pki.KeyFile},
			wantErr: "tls: private key does not match public key",
		},
		{
			name: "unknown mechanism", cfg: kafkaconf.Config{Mechanism: "GSSAPI", Username: "u", Password: password},
			wantErr: `kafka: --kafka-sasl-mechanism "GSSAPI" is not supported; want PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512`,
		},
		{
			name: "no user", cfg: kafkaconf.Config{Mechanism: "PLAIN", Password: password},
			wantErr: "kafka: SASL PLAIN needs a user: set --kafka-sasl-username (or $KAPPA_KAFKA_SASL_USERNAME)",
		},
		{
			name: "no password", cfg: kafkaconf.Config{Mechanism: "SCRAM-SHA-256", Username: "u"},
			wantErr: "kafka: SASL SCRAM-SHA-256 needs a password: set $KAPPA_KAFKA_SASL_PASSWORD or --kafka-sasl-password-file",
		},
		{
			name: "empty password file", cfg: kafkaconf.Config{Mechanism: "PLAIN", Username: "u", PasswordFile: pki.CAFile + ".none"},
			wantErr: "kafka: --kafka-sasl-password-file: read " + pki.CAFile + ".none: no such file or directory",
		},
		{
			name: "env and file", cfg: kafkaconf.Config{Mechanism: "PLAIN", Username: "u", PasswordFile: pwFile}, env: password,
			wantErr: "kafka: both $KAPPA_KAFKA_SASL_PASSWORD and --kafka-sasl-password-file are set; keep one",
		},
		{
			name: "credentials without mechanism", cfg: kafkaconf.Config{Username: "u", PasswordFile: pwFile},
			wantErr: "kafka: a SASL user and password file are set but no --kafka-sasl-mechanism",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv(kafkaconf.EnvPassword, tc.env)
			opts, err := tc.cfg.Opts()
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("got error %v, want none", err)
			case tc.wantErr == "" && len(opts) != tc.wantOpts:
				t.Fatalf("got %d options, want %d", len(opts), tc.wantOpts)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("got error %v, want %q", err, tc.wantErr)
			case err != nil && strings.Contains(err.Error(), password):
				t.Fatalf("the error %q contains the password", err)
			}
		})
	}
}

// TestPasswordFileContent: the file's password is used as it is, less one trailing
// newline (spaces count), and a broker accepts it.
func TestPasswordFileContent(t *testing.T) {
	pw := " " + password + " "
	pwFile := filepath.Join(t.TempDir(), "pw")
	if err := os.WriteFile(pwFile, []byte(pw+"\r\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv(kafkaconf.EnvPassword, "")
	b := kafkatest.NewInProcess(t, kfake.EnableSASL(), kfake.Superuser("PLAIN", "u", pw))
	c := kafkaconf.Config{Mechanism: "PLAIN", Username: "u", PasswordFile: pwFile}
	opts, err := c.Opts()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ctx, watch := kafkaconf.WatchAuth(ctx)
	defer watch.Stop()
	cl := b.Client(append(opts, kgo.WithHooks(watch))...)
	if err := c.Explain(watch.Err(cl.Ping(ctx))); err != nil {
		t.Fatalf("ping with the file's password: %v", err)
	}
}

func TestSecretNeverFormats(t *testing.T) {
	c := kafkaconf.Config{Mechanism: "PLAIN", Username: "u", Password: password}
	js, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{
		fmt.Sprint(c), fmt.Sprintf("%v", c), fmt.Sprintf("%+v", c), fmt.Sprintf("%#v", c),
		fmt.Sprintf("%s", c.Password), //nolint:staticcheck // the %s verb is what is tested
		fmt.Sprintf("%q", c.Password), string(js), c.Describe(),
	} {
		if strings.Contains(s, password) {
			t.Errorf("%s shows the password", s)
		}
	}
	if got := c.Password.Reveal(); got != password {
		t.Errorf("Reveal: got %q, want the password", got)
	}
}

func TestRejectPasswordFlag(t *testing.T) {
	for _, tc := range []struct {
		args   []string
		reject bool
	}{
		{[]string{"--kafka-sasl-password=" + password}, true},
		{[]string{"-kafka-sasl-password", password}, true},
		{[]string{"-f", "p.yaml", "--kafka-sasl-password", password}, true},
		{[]string{"--kafka-sasl-password-file", "/run/secrets/pw"}, false},
		{[]string{"--kafka-sasl-username", "kafka-sasl-password"}, false},
		{[]string{"--", "--kafka-sasl-password=x"}, false},
	} {
		err := kafkaconf.RejectPasswordFlag(tc.args)
		if (err != nil) != tc.reject {
			t.Errorf("%q: got %v, want rejected=%v", tc.args, err, tc.reject)
		}
		if err != nil && strings.Contains(err.Error(), password) {
			t.Errorf("%q: the error %q contains the password", tc.args, err)
		}
	}
}

// TestFlags: the flags fill the Config, and there is no password flag.
func TestFlags(t *testing.T) {
	t.Setenv(kafkaconf.EnvUsername, "from-env")
	var c kafkaconf.Config
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	c.RegisterFlags(fs)
	if err := fs.Parse([]string{"--kafka-tls-ca-file", "ca.pem", "--kafka-sasl-mechanism", "SCRAM-SHA-256"}); err != nil {
		t.Fatal(err)
	}
	want := kafkaconf.Config{CAFile: "ca.pem", Mechanism: "SCRAM-SHA-256", Username: "from-env"}
	if c != want {
		t.Errorf("got %+v, want %+v", c, want)
	}
	if fs.Lookup("kafka-sasl-password") != nil {
		t.Error("a --kafka-sasl-password flag exists; the password must come from the environment or a file")
	}
}

func TestExplain(t *testing.T) {
	sasl := kafkaconf.Config{Mechanism: "scram-sha-256", Username: "svc"}
	for _, tc := range []struct {
		name string
		cfg  kafkaconf.Config
		err  error
		want string
	}{
		{"nil", sasl, nil, ""},
		{"other", sasl, errors.New("boom"), "boom"},
		{
			"kafka rejects", sasl, fmt.Errorf("describe: %w", kerr.SaslAuthenticationFailed),
			`kafka: SASL authentication failed for user "svc" (mechanism SCRAM-SHA-256): check the username and $KAPPA_KAFKA_SASL_PASSWORD`,
		},
		{"connection closed", sasl, kafkaconf.ErrSASLRejected, `kafka: SASL authentication failed for user "svc"`},
		{"unsupported mechanism", sasl, kerr.UnsupportedSaslMechanism, "kafka: the broker does not accept SASL mechanism SCRAM-SHA-256"},
		{
			"tls alert",
			kafkaconf.Config{TLS: true},
			&net.OpError{Op: "remote error", Err: errors.New("tls: certificate required")},
			"kafka: the broker refused the TLS connection: it may require a client certificate",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := tc.cfg.Explain(tc.err)
			switch {
			case tc.err == nil && got != nil:
				t.Fatalf("got %v, want nil", got)
			case tc.err == nil:
			case !strings.Contains(got.Error(), tc.want):
				t.Fatalf("got %q, want it to contain %q", got, tc.want)
			case !errors.Is(got, tc.err):
				t.Fatalf("%v does not wrap %v", got, tc.err)
			}
		})
	}
}

var _ kgo.HookBrokerE2E = (*kafkaconf.AuthWatch)(nil)
