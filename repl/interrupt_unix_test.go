//go:build unix

package repl

import (
	"errors"
	"strings"
	"syscall"
	"testing"
	"time"

	"wdb/commands"
)

// zzwaitStarted tells the test that zzwait is running.
var zzwaitStarted = make(chan struct{}, 1)

func init() {
	commands.Register(&commands.Command{Name: "zzwait", Usage: "zzwait", Summary: "test: wait for Ctrl-C",
		Run: func(s *commands.Session, inv *commands.Invocation) (commands.Result, error) {
			zzwaitStarted <- struct{}{}
			select {
			case <-s.Ctx.Done():
				return nil, errors.New("zzwait: interrupted")
			case <-time.After(10 * time.Second):
				return nil, errors.New("zzwait: not interrupted")
			}
		}})
}

// Ctrl-C cancels the running command's context; in a script it also stops
// the script, and the status says so.
func TestCtrlCCancelsCommandAndStopsScript(t *testing.T) {
	go func() {
		<-zzwaitStarted
		syscall.Kill(syscall.Getpid(), syscall.SIGINT)
	}()
	out, _, code := runBatch(t, Options{Commands: "zzwait; zzecho after"}, false)
	if !strings.Contains(out, "zzwait: interrupted") {
		t.Errorf("command was not cancelled:\n%s", out)
	}
	if strings.Contains(out, "after") {
		t.Errorf("script went on after Ctrl-C:\n%s", out)
	}
	if code != ExitInterrupted {
		t.Errorf("exit status %d, want %d", code, ExitInterrupted)
	}
}
