package commands

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func newTestSession() (*Session, *bytes.Buffer) {
	var out bytes.Buffer
	return NewSession(nil, &out, &out), &out
}

func TestSplitCommands(t *testing.T) {
	for line, want := range map[string][]string{
		`r eax; $$ some text; r ebx; * more text; r ecx`: {"r eax", "$$ some text", "r ebx", "* more text; r ecx"},
		`.echo "a;b"; .echo c`:                           {`.echo "a;b"`, ".echo c"},
		`$<C:\x;y.txt`:                                   {`$<C:\x;y.txt`},
		`  db 10 ;; dd 20  `:                             {"db 10", "dd 20"},
	} {
		if got := SplitCommands(line); !reflect.DeepEqual(got, want) {
			t.Errorf("SplitCommands(%q) = %q, want %q", line, got, want)
		}
	}
}

func TestSplitName(t *testing.T) {
	for cmd, want := range map[string][2]string{
		"dds esp":             {"dds", "esp"},
		"!address -summary":   {"!address", "-summary"},
		".echo hello world":   {".echo", "hello world"},
		"~0s":                 {"~", "0s"},
		"?1+2":                {"?", "1+2"},
		"$$>a< f.txt 1":       {"$$>a<", "f.txt 1"},
		"lmvm ntdll":          {"lmvm", "ntdll"},
		"s-d 0 L4 1":          {"s", "-d 0 L4 1"},
		"* comment; not more": {"*", "comment; not more"},
	} {
		if n, a := splitName(cmd); n != want[0] || a != want[1] {
			t.Errorf("splitName(%q) = %q, %q; want %q", cmd, n, a, want)
		}
	}
}

func TestEchoAndComments(t *testing.T) {
	s, out := newTestSession()
	s.Execute(`.echo one; $$ hidden; .echo "two;three"; * .echo not run`)
	if got := out.String(); got != "one\ntwo;three\n" {
		t.Errorf("got %q", got)
	}
}

func TestUnknownCommandAndHelp(t *testing.T) {
	s, out := newTestSession()
	if err := s.Execute("frobnicate 1"); err == nil || out.String() != "Couldn't resolve error at 'frobnicate 1'\n" {
		t.Errorf("unknown command: %v %q", err, out.String())
	}
	if s.Failed != 1 {
		t.Errorf("Failed = %d", s.Failed)
	}
	out.Reset()
	s.Execute("!nosuch")
	if out.String() != "No export nosuch found\n" {
		t.Errorf("unknown extension: %q", out.String())
	}
	out.Reset()
	s.Execute("!address /?")
	if !strings.HasPrefix(out.String(), "!address [ADDR | -summary") {
		t.Errorf("/? help: %q", out.String())
	}
	out.Reset()
	s.Execute(".help")
	for _, want := range []string{". commands:", ".echo [\"<string>\"|<string>] - echo string", "! commands:", "!address"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf(".help lacks %q", want)
		}
	}
}

func TestQuit(t *testing.T) {
	s, out := newTestSession()
	s.Execute("q; .echo after")
	if !s.Quit || out.String() != "quit:\n" {
		t.Errorf("quit=%v out=%q", s.Quit, out.String())
	}
}

func TestScripts(t *testing.T) {
	dir := t.TempDir()
	script := filepath.Join(dir, "s.txt")
	os.WriteFile(script, []byte(".echo first\n.echo second; .echo third\n"), 0o644)
	args := filepath.Join(dir, "a.txt")
	os.WriteFile(args, []byte(".echo The first argument is ${$arg1}.\n.echo The fifth argument is ${$arg5}.\n.echo The fourth argument is ${$arg4}.\n"), 0o644)

	s, out := newTestSession()
	s.Execute("$$<" + script + "; .echo done")
	want := "0:000> .echo first\nfirst\n0:000> .echo second; .echo third\nsecond\nthird\ndone\n"
	if out.String() != want {
		t.Errorf("$$<:\n got %q\nwant %q", out.String(), want)
	}
	out.Reset()
	s.Execute("$$><" + script)
	if out.String() != "0:000> .echo first;.echo second; .echo third\nfirst\nsecond\nthird\n" {
		t.Errorf("$$><: %q", out.String())
	}
	out.Reset()
	s.Execute(`$$>a< ` + args + ` "First one" Two "Three More" Four`)
	if out.String() != "The first argument is First one.\nThe fifth argument is ${$arg5}.\nThe fourth argument is Four.\n" {
		t.Errorf("$$>a<: %q", out.String())
	}
	out.Reset()
	s.Execute("$<" + filepath.Join(dir, "missing.txt"))
	if !strings.HasPrefix(out.String(), "Couldn't open script file") {
		t.Errorf("missing script: %q", out.String())
	}
	// A script that runs itself stops at the nesting limit instead of looping.
	self := filepath.Join(dir, "self.txt")
	os.WriteFile(self, []byte("$$<"+self+"\n"), 0o644)
	out.Reset()
	s.Execute("$$<" + self)
	if !strings.Contains(out.String(), "Script nesting deeper than 32") {
		t.Errorf("recursion not bounded: %q", out.String()[:min(200, len(out.String()))])
	}
}

func TestLogging(t *testing.T) {
	dir := t.TempDir()
	log := filepath.Join(dir, "wdb.log")
	s, out := newTestSession()
	s.Execute(".logopen " + log)
	s.LogOnly("0:000> .echo logged\n")
	s.Execute(".echo logged")
	s.Execute(".logfile")
	s.Execute(".logclose")
	data, _ := os.ReadFile(log)
	// As in WinDbg, the log starts with the line that opened it.
	want := "Opened log file '" + log + "'\n0:000> .echo logged\nlogged\nLog '" + log + "' open\nClosing open log file " + log + "\n"
	if string(data) != want {
		t.Errorf("log:\n got %q\nwant %q", data, want)
	}
	if !strings.HasPrefix(out.String(), "Opened log file '"+log+"'\n") {
		t.Errorf("terminal: %q", out.String())
	}
	s.Execute(".logappend " + log)
	s.Execute(".echo again")
	s.Execute(".logclose")
	data, _ = os.ReadFile(log)
	if !strings.HasPrefix(string(data), want) || !strings.Contains(string(data), "again\n") {
		t.Errorf(".logappend must append: %q", data)
	}
}

func TestJSONMode(t *testing.T) {
	s, out := newTestSession()
	s.Execute(".json on")
	out.Reset()
	s.Execute(".echo hi; nosuch")
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 2 || lines[0] != `{"command":".echo hi","result":{"text":"hi\n"}}` || lines[1] != `{"command":"nosuch","error":"Couldn't resolve error at 'nosuch'"}` {
		t.Errorf("JSON lines: %q", lines)
	}
}
