package kafkaconf

import (
	"context"
	"errors"
	"io"
	"syscall"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// ErrSASLRejected means a broker closed the connection in answer to this client's SASL
// credentials. Apache Kafka answers a bad password with SASL_AUTHENTICATION_FAILED, which
// franz-go does not retry; other brokers (kfake, some proxies) just close the connection,
// which franz-go takes for a network failure and retries until its context ends.
var ErrSASLRejected = errors.New("kafka: the broker closed the connection during SASL authentication")

// AuthWatch is a franz-go hook that notices a broker closing the connection during SASL
// authentication and ends the context [WatchAuth] returned, so that a client with a wrong
// password fails at its first request instead of retrying. Give it to the client that makes
// the first requests of a run (kgo.WithHooks).
type AuthWatch struct {
	cancel context.CancelCauseFunc
	ctx    context.Context
}

var _ kgo.HookBrokerE2E = (*AuthWatch)(nil)

// WatchAuth returns a context derived from ctx that also ends, with cause
// [ErrSASLRejected], when the returned watch sees a SASL rejection. Call Stop when done.
func WatchAuth(ctx context.Context) (context.Context, *AuthWatch) {
	ctx, cancel := context.WithCancelCause(ctx)
	return ctx, &AuthWatch{cancel: cancel, ctx: ctx}
}

// OnBrokerE2E implements kgo.HookBrokerE2E.
func (w *AuthWatch) OnBrokerE2E(_ kgo.BrokerMetadata, key int16, e2e kgo.BrokerE2E) {
	if key != int16(kmsg.SASLAuthenticate) {
		return
	}
	if err := e2e.Err(); errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET) {
		w.cancel(ErrSASLRejected)
	}
}

// Err returns ErrSASLRejected if the watch saw a rejection, else err: the error to report
// for a request made under the watch's context.
func (w *AuthWatch) Err(err error) error {
	if err != nil && errors.Is(context.Cause(w.ctx), ErrSASLRejected) {
		return ErrSASLRejected
	}
	return err
}

// Stop releases the watch's context.
func (w *AuthWatch) Stop() { w.cancel(context.Canceled) }
