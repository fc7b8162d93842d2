package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"wdb/commands"
)

// These tests run the real binary, as a user or a CI script would.

var wdbBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "wdb-test")
	if err != nil {
		panic(err)
	}
	wdbBin = filepath.Join(dir, "wdb")
	if out, err := exec.Command("go", "build", "-o", wdbBin, ".").CombinedOutput(); err != nil {
		os.RemoveAll(dir)
		panic("building wdb: " + err.Error() + "\n" + string(out))
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// corpusDir is ../shared/corpus beside the repository.
const corpusDir = "../../../shared/corpus"

func corpusPath(t *testing.T, rel string) string {
	t.Helper()
	p := filepath.Join(corpusDir, rel)
	if _, err := os.Stat(p); err != nil {
		t.Skipf("corpus file %s not available (%v); the shared corpus is expected at %s", rel, err, corpusDir)
	}
	return p
}

const fpuDump = "trailofbits__manticore/tests/memdumps/simple_fpu/simple_fpu.dmp"

type result struct {
	stdout, stderr string
	code           int
}

// wdb runs the binary with stdin (nil: /dev/null) and fails the test if it
// runs longer than a script ever should.
func wdb(t *testing.T, stdin io.Reader, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, wdbBin, args...)
	cmd.Stdin = stdin
	cmd.Env = append(os.Environ(), "_NT_SYMBOL_PATH=", "_NT_ALT_SYMBOL_PATH=", "_NT_EXECUTABLE_IMAGE_PATH=")
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	cmd.WaitDelay = 5 * time.Second // never wait on a stdin copy forever
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("wdb %q did not exit (hung?)\nstdout:\n%s\nstderr:\n%s", args, out.String(), errb.String())
	}
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(errb.String(), "panic:") || strings.Contains(errb.String(), "goroutine ") {
		t.Errorf("wdb %q panicked:\n%s", args, errb.String())
	}
	return result{out.String(), errb.String(), code}
}

// needCommand skips a test whose expectations need a command that is not
// registered yet (the binary holds the same command set as this test).
func needCommand(t *testing.T, name string) {
	t.Helper()
	if _, ok := commands.Lookup(name); !ok {
		t.Skipf("command %s is not registered yet", name)
	}
}

func TestQuitScript(t *testing.T) {
	needCommand(t, "q")
	dmp := corpusPath(t, fpuDump)
	r := wdb(t, nil, "-z", dmp, "-c", "q")
	if r.code != 0 {
		t.Errorf("exit status %d, want 0; stderr:\n%s", r.code, r.stderr)
	}
	for _, want := range []string{"Loading Dump File [" + dmp + "]", "For analysis of this file, run !analyze -v", "0:000> q\n"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("stdout lacks %q:\n%s", want, r.stdout)
		}
	}
}

func TestPositionalDumpAndStdinBatch(t *testing.T) {
	needCommand(t, "q")
	r := wdb(t, strings.NewReader("q\n"), corpusPath(t, fpuDump))
	if r.code != 0 {
		t.Errorf("exit status %d, want 0; stderr:\n%s", r.code, r.stderr)
	}
	if !strings.Contains(r.stdout, "0:000> q\n") {
		t.Errorf("stdin command not echoed after the prompt:\n%s", r.stdout)
	}
}

func TestScriptWithoutQuitExits(t *testing.T) {
	// stdin is a pipe that never closes: the script must still end the run.
	// (An *os.File, so that exec hands it over instead of copying it.)
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer pr.Close()
	defer pw.Close()
	r := wdb(t, pr, corpusPath(t, fpuDump), "-c", ".echo hello")
	want := 0
	if _, ok := commands.Lookup(".echo"); !ok {
		want = 1 // the unknown command fails the script
	}
	if r.code != want {
		t.Errorf("exit status %d, want %d; stderr:\n%s", r.code, want, r.stderr)
	}
	if want == 0 && !strings.Contains(r.stdout, "0:000> .echo hello\nhello\n") {
		t.Errorf("stdout:\n%s", r.stdout)
	}
}

func TestFailingScriptCommandExitsOne(t *testing.T) {
	needCommand(t, "q")
	r := wdb(t, nil, corpusPath(t, fpuDump), "-c", "zz_no_such_command; q")
	if r.code != 1 {
		t.Errorf("exit status %d, want 1", r.code)
	}
	if !strings.Contains(r.stdout, "0:000> q\n") {
		t.Errorf("script did not continue after the failing command:\n%s", r.stdout)
	}
}

func TestJSONOutputIsPure(t *testing.T) {
	needCommand(t, ".echo")
	r := wdb(t, nil, "--json", corpusPath(t, fpuDump), "-c", ".echo one; .echo two")
	lines := strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n")
	if len(lines) != 2 {
		t.Fatalf("want 2 JSON lines, got:\n%s", r.stdout)
	}
	for _, l := range lines {
		if !json.Valid([]byte(l)) {
			t.Errorf("not JSON: %q", l)
		}
	}
}

func TestMissingDumpFile(t *testing.T) {
	r := wdb(t, nil, filepath.Join(t.TempDir(), "absent.dmp"))
	if r.code != 1 {
		t.Errorf("exit status %d, want 1", r.code)
	}
	if !strings.HasPrefix(r.stderr, "wdb: ") || strings.Count(r.stderr, "\n") != 1 {
		t.Errorf("want one wdb: error line, got %q", r.stderr)
	}
}

func TestMalformedDump(t *testing.T) {
	r := wdb(t, nil, "-c", "q", corpusPath(t, "radareorg__radare2-testbins/fuzzed/npe_r_mdmp.c-364_1.mdmp"))
	if r.code != 1 {
		t.Errorf("exit status %d, want 1", r.code)
	}
	if !strings.HasPrefix(r.stderr, "wdb: ") || strings.Count(r.stderr, "\n") != 1 {
		t.Errorf("want one wdb: error line, got %q", r.stderr)
	}
	if r.stdout != "" {
		t.Errorf("stdout not empty:\n%s", r.stdout)
	}
}

func TestUsageErrors(t *testing.T) {
	dmp := filepath.Join(t.TempDir(), "x.dmp")
	tests := []struct {
		args []string
		want string // stderr prefix
	}{
		{[]string{"-foo", dmp}, "wdb: unknown option -foo (see wdb --help)\n"},
		{[]string{dmp, "-c"}, "wdb: option -c needs a value (see wdb --help)\n"},
		{[]string{dmp, dmp + "2"}, "wdb: more than one dump file given"},
	}
	for _, tt := range tests {
		r := wdb(t, nil, tt.args...)
		if r.code != 2 {
			t.Errorf("wdb %q: exit status %d, want 2", tt.args, r.code)
		}
		if !strings.HasPrefix(r.stderr, tt.want) {
			t.Errorf("wdb %q: stderr %q, want prefix %q", tt.args, r.stderr, tt.want)
		}
	}
}

func TestHelpAndVersion(t *testing.T) {
	for _, arg := range []string{"--help", "-h", "-?", "-help"} {
		r := wdb(t, nil, arg)
		if r.code != 0 || !strings.HasPrefix(r.stdout, "usage: wdb") {
			t.Errorf("wdb %s: status %d, stdout %q", arg, r.code, r.stdout)
		}
		for _, opt := range []string{"-z", "-c", "-cf", "-y", "-i", "-logo", "--json", "--version", "--help"} {
			if !strings.Contains(r.stdout, "  "+opt+" ") && !strings.Contains(r.stdout, ", "+opt+",") && !strings.Contains(r.stdout, ", "+opt+" ") {
				t.Errorf("wdb %s: usage does not list %s", arg, opt)
			}
		}
	}
	r := wdb(t, nil, "--version")
	if r.code != 0 || !strings.HasPrefix(r.stdout, "wdb version ") {
		t.Errorf("--version: status %d, stdout %q", r.code, r.stdout)
	}
}

func TestBannerShowsPathsFromFlags(t *testing.T) {
	needCommand(t, "q")
	r := wdb(t, nil, "-y", `srv*C:\sym`, "-i", `C:\bin`, "-c", "q", corpusPath(t, fpuDump))
	for _, want := range []string{"Symbol search path is: srv*C:\\sym\n", "Executable search path is: C:\\bin\n"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("stdout lacks %q:\n%s", want, r.stdout)
		}
	}
}

func TestLogFromStart(t *testing.T) {
	needCommand(t, "q")
	needCommand(t, ".logopen")
	log := filepath.Join(t.TempDir(), "s.log")
	r := wdb(t, nil, "-logo", log, "-c", "q", corpusPath(t, fpuDump))
	if r.code != 0 {
		t.Fatalf("exit status %d; stderr:\n%s", r.code, r.stderr)
	}
	b, err := os.ReadFile(log)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Loading Dump File [", "0:000> q\n"} {
		if !strings.Contains(string(b), want) {
			t.Errorf("log lacks %q:\n%s", want, b)
		}
	}
}
