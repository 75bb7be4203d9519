package state

import (
	"fmt"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// pebbleLogger sends Pebble's own log lines to zap. Pebble's Infof lines (WALs found at
// open, compaction picks) go to Debug so that a healthy store logs nothing at Info.
type pebbleLogger struct{ l *zap.Logger }

var _ pebble.Logger = pebbleLogger{}

// Infof implements pebble.Logger at zap's Debug level.
func (p pebbleLogger) Infof(format string, args ...any) { p.logf(zapcore.DebugLevel, format, args) }

// Errorf implements pebble.Logger at zap's Error level.
func (p pebbleLogger) Errorf(format string, args ...any) { p.logf(zapcore.ErrorLevel, format, args) }

// Fatalf implements pebble.Logger. Pebble calls it on a broken invariant and expects it not
// to return: log at Error so the line reaches the log pipeline, then panic for the stack.
func (p pebbleLogger) Fatalf(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	p.l.Error(msg)
	panic("state: pebble: " + msg)
}

func (p pebbleLogger) logf(lvl zapcore.Level, format string, args []any) {
	if ce := p.l.Check(lvl, ""); ce != nil {
		ce.Message = fmt.Sprintf(format, args...)
		ce.Write()
	}
}

// eventListener logs Pebble's events quietly: flushes, compactions and file churn at Debug;
// stalls, slow disks and low disk space at Warn; background errors and corruption at Error.
func eventListener(l *zap.Logger) *pebble.EventListener {
	el := pebble.MakeLoggingEventListener(pebbleLogger{l})
	el.BackgroundError = func(err error) { l.Error("pebble background error", zap.Error(err)) }
	el.DataCorruption = func(info pebble.DataCorruptionInfo) {
		l.Error("pebble data corruption", zap.Stringer("info", info))
	}
	el.DiskSlow = func(info vfs.DiskSlowInfo) { l.Warn("pebble disk slow", zap.Stringer("info", info)) }
	el.WriteStallBegin = func(info pebble.WriteStallBeginInfo) {
		l.Warn("pebble write stall", zap.String("reason", info.Reason))
	}
	el.WriteStallEnd = func() { l.Info("pebble write stall ended") }
	el.LowDiskSpace = func(info pebble.LowDiskSpaceInfo) {
		l.Warn("pebble low disk space", zap.Stringer("info", info))
	}
	el.PossibleAPIMisuse = func(info pebble.PossibleAPIMisuseInfo) {
		l.Warn("pebble possible API misuse", zap.Stringer("info", info))
	}
	return &el
}
