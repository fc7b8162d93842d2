package repl

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"wdb/commands"
)

// Test-only commands with names no real command will take, so the tests do
// not depend on which commands exist yet.
func init() {
	commands.Register(&commands.Command{Name: "zzecho", Usage: "zzecho <text>", Summary: "test: print the arguments",
		Run: func(s *commands.Session, inv *commands.Invocation) (commands.Result, error) {
			return commands.Text(inv.Args + "\n"), nil
		}})
	commands.Register(&commands.Command{Name: "zzfail", Usage: "zzfail", Summary: "test: fail",
		Run: func(s *commands.Session, inv *commands.Invocation) (commands.Result, error) {
			return nil, errors.New("zzfail: it failed")
		}})
	commands.Register(&commands.Command{Name: "zzquit", Usage: "zzquit", Summary: "test: quit",
		Run: func(s *commands.Session, inv *commands.Invocation) (commands.Result, error) {
			s.Quit = true
			return nil, nil
		}})
	commands.Register(&commands.Command{Name: "zzrep", Usage: "zzrep", Summary: "test: repeatable", Repeatable: true,
		Run: func(s *commands.Session, inv *commands.Invocation) (commands.Result, error) {
			return commands.Text("rep[" + inv.Args + "]\n"), nil
		}})
}

// runBatch runs a target-less session with opts and returns stdout, stderr
// and the exit status.
func runBatch(t *testing.T, opts Options, json bool) (string, string, int) {
	t.Helper()
	var out, errb bytes.Buffer
	s := commands.NewSession(nil, &out, &errb)
	s.JSON = json
	if opts.Stdin == nil {
		opts.Stdin = strings.NewReader("")
	}
	code := Run(s, opts)
	return out.String(), errb.String(), code
}

func TestCommandsEchoEachCommand(t *testing.T) {
	out, _, code := runBatch(t, Options{Commands: "zzecho hello; zzecho  two words ;zzquit; zzecho never"}, false)
	want := "0:000> zzecho hello\nhello\n0:000> zzecho  two words\ntwo words\n0:000> zzquit\n"
	if out != want {
		t.Errorf("output:\n%q\nwant\n%q", out, want)
	}
	if code != 0 {
		t.Errorf("exit status %d, want 0", code)
	}
}

func TestScriptDoesNotReadStdin(t *testing.T) {
	// A -c script that does not quit must end the run, not read on.
	out, _, code := runBatch(t, Options{Commands: "zzecho a", Stdin: strings.NewReader("zzecho from-stdin\n")}, false)
	if strings.Contains(out, "from-stdin") {
		t.Errorf("stdin was read after -c:\n%s", out)
	}
	if code != 0 {
		t.Errorf("exit status %d, want 0", code)
	}
}

func TestFailingCommandContinuesAndFails(t *testing.T) {
	out, _, code := runBatch(t, Options{Commands: "zzfail; zzecho after"}, false)
	want := "0:000> zzfail\nzzfail: it failed\n0:000> zzecho after\nafter\n"
	if out != want {
		t.Errorf("output:\n%q\nwant\n%q", out, want)
	}
	if code != ExitFailed {
		t.Errorf("exit status %d, want %d", code, ExitFailed)
	}
}

func TestStdinLinesEchoed(t *testing.T) {
	// cdb echoes script lines verbatim: the leading space stays, an empty
	// line is a bare prompt that repeats the last repeatable command.
	in := "zzrep x\r\n\n zzecho b\nzzquit\nzzecho never\n"
	out, _, code := runBatch(t, Options{Stdin: strings.NewReader(in)}, false)
	want := "0:000> zzrep x\nrep[x]\n0:000> \nrep[]\n0:000>  zzecho b\nb\n0:000> zzquit\n"
	if out != want {
		t.Errorf("output:\n%q\nwant\n%q", out, want)
	}
	if code != 0 {
		t.Errorf("exit status %d, want 0", code)
	}
}

func TestStdinFailureSetsStatus(t *testing.T) {
	_, _, code := runBatch(t, Options{Stdin: strings.NewReader("zzfail\nzzecho ok\n")}, false)
	if code != ExitFailed {
		t.Errorf("exit status %d, want %d", code, ExitFailed)
	}
}

func TestCommandFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cmds.txt")
	if err := os.WriteFile(path, []byte("\ufeffzzecho one; zzecho two\nzzecho three\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out, _, code := runBatch(t, Options{CommandFile: path, Commands: "zzecho four"}, false)
	want := "0:000> zzecho one; zzecho two\none\ntwo\n0:000> zzecho three\nthree\n0:000> zzecho four\nfour\n"
	if out != want {
		t.Errorf("output:\n%q\nwant\n%q", out, want)
	}
	if code != 0 {
		t.Errorf("exit status %d, want 0", code)
	}
}

func TestMissingCommandFile(t *testing.T) {
	_, errOut, code := runBatch(t, Options{CommandFile: filepath.Join(t.TempDir(), "absent.txt")}, false)
	if code != ExitFailed || !strings.HasPrefix(errOut, "wdb: cannot read command file: ") {
		t.Errorf("status %d, stderr %q", code, errOut)
	}
}

func TestJSONHasNoPrompts(t *testing.T) {
	out, _, code := runBatch(t, Options{Commands: "zzecho hi; zzfail"}, true)
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(lines) != 2 {
		t.Fatalf("want 2 JSON lines, got:\n%s", out)
	}
	for _, l := range lines {
		if !json.Valid([]byte(l)) {
			t.Errorf("not JSON: %q", l)
		}
		if strings.Contains(l, "0:000>") {
			t.Errorf("prompt in JSON output: %q", l)
		}
	}
	if code != ExitFailed {
		t.Errorf("exit status %d, want %d", code, ExitFailed)
	}
}

func TestLogFileGetsEchoAndOutput(t *testing.T) {
	if _, ok := commands.Lookup(".logopen"); !ok {
		t.Skip(".logopen is not registered yet")
	}
	path := filepath.Join(t.TempDir(), "session.log")
	_, errOut, code := runBatch(t, Options{LogFile: path, Commands: "zzecho logged"}, false)
	if code != 0 {
		t.Fatalf("exit status %d, stderr %q", code, errOut)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), "0:000> zzecho logged\nlogged\n") {
		t.Errorf("log lacks the echoed command and its output:\n%s", b)
	}
}
