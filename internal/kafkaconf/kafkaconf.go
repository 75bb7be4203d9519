package kafkaconf

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"strings"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"
)

// Environment variables read by [Config.Opts] and [Config.RegisterFlags].
const (
	// EnvPassword holds the SASL password. It is the only place, with
	// --kafka-sasl-password-file, a password is taken from.
	EnvPassword = "KAPPA_KAFKA_SASL_PASSWORD"
	// EnvUsername is the default of --kafka-sasl-username.
	EnvUsername = "KAPPA_KAFKA_SASL_USERNAME"
)

// The SASL mechanisms Kappa speaks.
const (
	MechanismPlain     = "PLAIN"
	MechanismSCRAM256  = "SCRAM-SHA-256"
	MechanismSCRAM512  = "SCRAM-SHA-512"
	redacted           = "[redacted]"
	passwordFlagPrefix = "kafka-sasl-password"
)

// Secret is a credential. It prints, formats and marshals as "[redacted]", so a Config can
// be logged or wrapped in an error without showing it; [Secret.Reveal] gives the value.
type Secret string

// String implements fmt.Stringer.
func (Secret) String() string { return redacted }

// GoString implements fmt.GoStringer, for %#v.
func (Secret) GoString() string { return redacted }

// MarshalText implements encoding.TextMarshaler, for JSON and zap.Any.
func (Secret) MarshalText() ([]byte, error) { return []byte(redacted), nil }

// Reveal returns the credential itself.
func (s Secret) Reveal() string { return string(s) }

// Config is how Kappa connects to Kafka. The zero Config is plaintext without
// authentication.
type Config struct {
	// TLS dials brokers with TLS, trusting the system roots unless CAFile is set. Setting
	// CAFile, CertFile or ServerName implies it.
	TLS bool
	// CAFile is a PEM file of the certificate authorities that sign the brokers'
	// certificates. Default: the system roots.
	CAFile string
	// CertFile and KeyFile are the PEM client certificate and private key for mutual TLS.
	// Both or neither.
	CertFile, KeyFile string
	// ServerName overrides the host name the brokers' certificates are checked against.
	// Default: the host of the address dialed.
	ServerName string

	// Mechanism is the SASL mechanism: PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512 (any case).
	// Empty disables SASL.
	Mechanism string
	// Username is the SASL user. Required with a Mechanism.
	Username string
	// PasswordFile is a file holding the SASL password (one trailing newline is dropped).
	// It and $KAPPA_KAFKA_SASL_PASSWORD are exclusive.
	PasswordFile string
	// Password is the SASL password itself, for callers that have it in hand (tests). When
	// empty, Opts reads PasswordFile or $KAPPA_KAFKA_SASL_PASSWORD.
	Password Secret
}

// RegisterFlags adds the --kafka-* flags to fs. There is deliberately no password flag.
func (c *Config) RegisterFlags(fs *flag.FlagSet) {
	fs.BoolVar(&c.TLS, "kafka-tls", false, "connect to Kafka with TLS, trusting the system roots (implied by the other --kafka-tls-* flags)")
	fs.StringVar(&c.CAFile, "kafka-tls-ca-file", "", "PEM file of the CAs that sign the brokers' certificates (default: the system roots)")
	fs.StringVar(&c.CertFile, "kafka-tls-cert-file", "", "PEM client certificate, for mutual TLS (with --kafka-tls-key-file)")
	fs.StringVar(&c.KeyFile, "kafka-tls-key-file", "", "PEM client private key, for mutual TLS (with --kafka-tls-cert-file)")
	fs.StringVar(&c.ServerName, "kafka-tls-server-name", "", "host name to check the brokers' certificates against (default: the host dialed)")
	fs.StringVar(&c.Mechanism, "kafka-sasl-mechanism", "", "SASL mechanism: PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512 (default: no SASL)")
	fs.StringVar(&c.Username, "kafka-sasl-username", os.Getenv(EnvUsername), "SASL user name (default $"+EnvUsername+")")
	fs.StringVar(&c.PasswordFile, "kafka-sasl-password-file", "", "file holding the SASL password; otherwise it is read from $"+EnvPassword+" (never from a flag)")
}

// RejectPasswordFlag returns an error if args pass the password as a flag value
// (--kafka-sasl-password=...): a flag value shows in ps and in shell history. The error
// never contains the value. Call it before parsing flags, so the flag package does not echo
// the value in its own "flag provided but not defined" message.
func RejectPasswordFlag(args []string) error {
	for _, a := range args {
		if a == "--" {
			return nil
		}
		name, _, _ := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if strings.HasPrefix(a, "-") && name == passwordFlagPrefix {
			return fmt.Errorf("--%s is not accepted: a password on the command line shows in ps and shell history; set $%s or --kafka-sasl-password-file",
				passwordFlagPrefix, EnvPassword)
		}
	}
	return nil
}

// Enabled reports whether c asks for TLS or SASL.
func (c *Config) Enabled() bool { return c.tlsEnabled() || c.Mechanism != "" }

func (c *Config) tlsEnabled() bool {
	return c.TLS || c.CAFile != "" || c.CertFile != "" || c.KeyFile != "" || c.ServerName != ""
}

// Describe returns a summary fit for a log line: the TLS mode, the mechanism and the user,
// never a password or key.
func (c *Config) Describe() string {
	t := "plaintext"
	switch {
	case c.CertFile != "":
		t = "mtls"
	case c.tlsEnabled():
		t = "tls"
	}
	if c.Mechanism == "" {
		return t
	}
	return fmt.Sprintf("%s sasl=%s user=%s", t, strings.ToUpper(c.Mechanism), c.Username)
}

// Opts validates c, reads its files and returns the client options for it: TLS dialing and
// SASL. Errors name the flag or file at fault, never its secret contents.
func (c *Config) Opts() ([]kgo.Opt, error) {
	var opts []kgo.Opt
	if c.tlsEnabled() {
		tc, err := c.tlsConfig()
		if err != nil {
			return nil, err
		}
		opts = append(opts, kgo.DialTLSConfig(tc))
	}
	m, err := c.mechanism()
	if err != nil {
		return nil, err
	}
	if m != nil {
		opts = append(opts, kgo.SASL(m))
	}
	return opts, nil
}

func (c *Config) tlsConfig() (*tls.Config, error) {
	tc := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: c.ServerName}
	if c.CAFile != "" {
		pem, err := os.ReadFile(c.CAFile)
		if err != nil {
			return nil, fmt.Errorf("kafka: --kafka-tls-ca-file: read %s: %w", c.CAFile, unwrapPath(err))
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("kafka: --kafka-tls-ca-file: %s holds no PEM certificate", c.CAFile)
		}
		tc.RootCAs = pool
	}
	switch {
	case c.CertFile != "" && c.KeyFile == "":
		return nil, errors.New("kafka: --kafka-tls-cert-file needs --kafka-tls-key-file (mutual TLS takes both)")
	case c.CertFile == "" && c.KeyFile != "":
		return nil, errors.New("kafka: --kafka-tls-key-file needs --kafka-tls-cert-file (mutual TLS takes both)")
	case c.CertFile != "":
		for _, f := range []struct{ flag, path string }{{"cert", c.CertFile}, {"key", c.KeyFile}} {
			if _, err := os.Stat(f.path); err != nil {
				return nil, fmt.Errorf("kafka: --kafka-tls-%s-file: %s: %w", f.flag, f.path, unwrapPath(err))
			}
		}
		// tls.X509KeyPair's errors describe the PEM blocks it found, not their contents.
		cert, err := tls.LoadX509KeyPair(c.CertFile, c.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("kafka: --kafka-tls-cert-file %s and --kafka-tls-key-file %s: %w", c.CertFile, c.KeyFile, err)
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	return tc, nil
}

func (c *Config) mechanism() (sasl.Mechanism, error) {
	if c.Mechanism == "" {
		if c.Username != "" && c.PasswordFile != "" {
			return nil, errors.New("kafka: a SASL user and password file are set but no --kafka-sasl-mechanism (PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512)")
		}
		return nil, nil
	}
	mech := strings.ToUpper(c.Mechanism)
	switch mech {
	case MechanismPlain, MechanismSCRAM256, MechanismSCRAM512:
	default:
		return nil, fmt.Errorf("kafka: --kafka-sasl-mechanism %q is not supported; want PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512", c.Mechanism)
	}
	if c.Username == "" {
		return nil, fmt.Errorf("kafka: SASL %s needs a user: set --kafka-sasl-username (or $%s)", mech, EnvUsername)
	}
	pass, err := c.password()
	if err != nil {
		return nil, err
	}
	if pass == "" {
		return nil, fmt.Errorf("kafka: SASL %s needs a password: set $%s or --kafka-sasl-password-file", mech, EnvPassword)
	}
	switch mech {
	case MechanismPlain:
		return plain.Auth{User: c.Username, Pass: pass}.AsMechanism(), nil
	case MechanismSCRAM256:
		return scram.Auth{User: c.Username, Pass: pass}.AsSha256Mechanism(), nil
	default:
		return scram.Auth{User: c.Username, Pass: pass}.AsSha512Mechanism(), nil
	}
}

func (c *Config) password() (string, error) {
	if c.Password != "" {
		return c.Password.Reveal(), nil
	}
	env := os.Getenv(EnvPassword)
	if c.PasswordFile == "" {
		return env, nil
	}
	if env != "" {
		return "", fmt.Errorf("kafka: both $%s and --kafka-sasl-password-file are set; keep one", EnvPassword)
	}
	b, err := os.ReadFile(c.PasswordFile)
	if err != nil {
		return "", fmt.Errorf("kafka: --kafka-sasl-password-file: read %s: %w", c.PasswordFile, unwrapPath(err))
	}
	return strings.TrimSuffix(strings.TrimSuffix(string(b), "\n"), "\r"), nil
}

// unwrapPath drops the *fs.PathError wrapper, whose path the caller already names.
func unwrapPath(err error) error {
	if pe, ok := errors.AsType[*os.PathError](err); ok {
		return pe.Err
	}
	return err
}

// Explain turns a Kafka client error that comes from the security settings (a rejected
// password, an untrusted certificate, TLS or SASL missing on one side) into an error that
// says which setting to check. Other errors come back unchanged. The result wraps err.
func (c *Config) Explain(err error) error {
	if err == nil {
		return nil
	}
	mech := strings.ToUpper(c.Mechanism)
	var firstEOF *kgo.ErrFirstReadEOF
	var unknownCA x509.UnknownAuthorityError
	var hostErr x509.HostnameError
	var verifyErr *tls.CertificateVerificationError
	var headerErr tls.RecordHeaderError
	var alert tls.AlertError
	var opErr *net.OpError
	switch {
	case errors.Is(err, kerr.SaslAuthenticationFailed) || errors.Is(err, ErrSASLRejected) || (mech != "" && errors.As(err, &firstEOF)):
		// A broker that rejects the credentials answers SASL_AUTHENTICATION_FAILED, or
		// (kfake, some proxies) closes the connection during the handshake.
		return fmt.Errorf("kafka: SASL authentication failed for user %q (mechanism %s): check the username and $%s (or --kafka-sasl-password-file): %w",
			c.Username, mech, EnvPassword, err)
	case errors.Is(err, kerr.UnsupportedSaslMechanism):
		return fmt.Errorf("kafka: the broker does not accept SASL mechanism %s: check --kafka-sasl-mechanism: %w", mech, err)
	case errors.As(err, &firstEOF):
		return fmt.Errorf("kafka: the broker closed the connection at once: it may require SASL (--kafka-sasl-mechanism) or TLS (--kafka-tls): %w", err)
	case errors.As(err, &unknownCA), errors.As(err, &hostErr), errors.As(err, &verifyErr):
		return fmt.Errorf("kafka: TLS: the broker's certificate is not trusted: check --kafka-tls-ca-file and --kafka-tls-server-name: %w", err)
	case errors.As(err, &headerErr):
		return fmt.Errorf("kafka: TLS handshake failed: the broker's listener may not be TLS (drop --kafka-tls or use its TLS port): %w", err)
	case errors.As(err, &alert) || (errors.As(err, &opErr) && opErr.Op == "remote error"):
		// A TLS alert from the broker (crypto/tls reports it as a *net.OpError with Op
		// "remote error"), such as "certificate required".
		return fmt.Errorf("kafka: the broker refused the TLS connection: it may require a client certificate (--kafka-tls-cert-file, --kafka-tls-key-file) or one it trusts: %w", err)
	}
	return err
}
