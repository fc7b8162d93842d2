package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"wdb/sample"
)

// wdbCache runs the binary with its user cache directory (and home) under
// dir, so that the built-in sample is written there.
func wdbCache(t *testing.T, dir string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, wdbBin, args...)
	cmd.Env = append(os.Environ(), "_NT_SYMBOL_PATH=", "_NT_ALT_SYMBOL_PATH=", "_NT_EXECUTABLE_IMAGE_PATH=",
		"XDG_CACHE_HOME="+filepath.Join(dir, "cache"), "HOME="+dir, "LocalAppData="+filepath.Join(dir, "cache"))
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("wdb %q did not exit\nstdout:\n%s\nstderr:\n%s", args, out.String(), errb.String())
	}
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(errb.String(), "panic:") {
		t.Errorf("wdb %q panicked:\n%s", args, errb.String())
	}
	return result{out.String(), errb.String(), code}
}

func TestNoDumpOpensSample(t *testing.T) {
	needCommand(t, "q")
	dir := t.TempDir()
	r := wdbCache(t, dir, "-c", "x app!CMMFSerializer::`vftable'; q")
	if r.code != 0 {
		t.Fatalf("exit status %d; stderr:\n%s\nstdout:\n%s", r.code, r.stderr, r.stdout)
	}
	m := regexp.MustCompile(`Loading Dump File \[(.*)\]\n(.*)\n`).FindStringSubmatch(r.stdout)
	if m == nil {
		t.Fatalf("no Loading Dump File line:\n%s", r.stdout)
	}
	path := m[1]
	if !strings.HasPrefix(path, dir) || filepath.Base(path) != "wdb-sample.dmp" {
		t.Errorf("sample written to %s, not under the cache directory %s", path, dir)
	}
	if m[2] != sampleBannerLine || !strings.Contains(m[2], ".tutorial starts a guided analysis of this dump") {
		t.Errorf("banner line after Loading Dump File: %q", m[2])
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(path), sample.PDBName)); err != nil {
		t.Errorf("no app.pdb beside the sample: %v", err)
	}
	if !strings.Contains(r.stdout, "Symbol search path is: "+filepath.Dir(path)) {
		t.Errorf("the symbol path does not start with the sample's directory:\n%s", r.stdout)
	}
	// The vftable resolves through app.pdb.
	if !strings.Contains(r.stdout, "00000001`40002038") || !strings.Contains(r.stdout, "app!CMMFSerializer::`vftable'") {
		t.Errorf("x did not find the vftable through the sample's app.pdb:\n%s", r.stdout)
	}
	st1, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	// A second run reuses the cached sample.
	r = wdbCache(t, dir, "-c", "q")
	if r.code != 0 || !strings.Contains(r.stdout, "Loading Dump File ["+path+"]") {
		t.Fatalf("second run: %d\n%s", r.code, r.stdout)
	}
	if st2, err := os.Stat(path); err != nil || !st2.ModTime().Equal(st1.ModTime()) {
		t.Errorf("the cached sample was rewritten")
	}
}

func TestNoDumpJSON(t *testing.T) {
	needCommand(t, "q")
	r := wdbCache(t, t.TempDir(), "--json", "-c", "lm; q")
	if r.code != 0 {
		t.Fatalf("exit status %d; stderr:\n%s", r.code, r.stderr)
	}
	for _, line := range strings.Split(strings.TrimSpace(r.stdout), "\n") {
		if !json.Valid([]byte(line)) {
			t.Errorf("not JSON: %q", line)
		}
	}
}

func TestSampleSubcommand(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "leak.dmp")
	r := wdbCache(t, dir, "sample", "--out", out)
	if r.code != 0 {
		t.Fatalf("exit status %d; stderr:\n%s", r.code, r.stderr)
	}
	if !strings.Contains(r.stdout, "wrote "+out) || !strings.Contains(r.stdout, "wdb -y "+dir+" "+out) {
		t.Errorf("stdout:\n%s", r.stdout)
	}
	for _, f := range []string{out, filepath.Join(dir, sample.PDBName)} {
		if _, err := os.Stat(f); err != nil {
			t.Error(err)
		}
	}
	needCommand(t, "q")
	r = wdbCache(t, dir, "-y", dir, "-c", "x app!CMMFSerializer::`vftable'; q", out)
	if r.code != 0 || !strings.Contains(r.stdout, "00000001`40002038") {
		t.Errorf("opening the written sample: %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	if strings.Contains(r.stdout, sampleBannerLine) {
		t.Error("a dump given on the command line is announced as the built-in sample")
	}

	out86 := filepath.Join(dir, "x86", "leak.dmp")
	os.MkdirAll(filepath.Dir(out86), 0o755)
	r = wdbCache(t, dir, "sample", "--arch=x86", "--views", "40", "--out", out86)
	if r.code != 0 || !strings.Contains(r.stdout, "x86, 40 leaked views") {
		t.Errorf("x86: %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
}

func TestSampleSubcommandErrors(t *testing.T) {
	dir := t.TempDir()
	for _, tt := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"sample"}, 2, "--out FILE is required"},
		{[]string{"sample", "--bogus"}, 2, "unknown option --bogus"},
		{[]string{"sample", "--out"}, 2, "needs a value"},
		{[]string{"sample", "--arch", "arm64", "--out", filepath.Join(dir, "a.dmp")}, 2, "unknown architecture"},
		{[]string{"sample", "--views", "x", "--out", filepath.Join(dir, "a.dmp")}, 2, "not a number"},
		{[]string{"sample", "--out", filepath.Join(dir, "missing", "a.dmp")}, 1, "wdb sample:"},
	} {
		r := wdbCache(t, dir, tt.args...)
		if r.code != tt.code || !strings.Contains(r.stderr, tt.want) {
			t.Errorf("wdb %q: %d %q, want %d and %q", tt.args, r.code, r.stderr, tt.code, tt.want)
		}
	}
	r := wdbCache(t, dir, "sample", "--help")
	if r.code != 0 || !strings.HasPrefix(r.stdout, "usage: wdb sample") {
		t.Errorf("--help: %d\n%s", r.code, r.stdout)
	}
}
