package commands

import (
	"bytes"
	"testing"

	"wdb/dump"
)

// openSession opens a dump and returns a session whose output is captured.
func openSession(t testing.TB, path string) (*Session, *bytes.Buffer) {
	t.Helper()
	f, err := dump.Open(path)
	if err != nil {
		t.Fatalf("open %s: %v", path, err)
	}
	t.Cleanup(func() { f.Close() })
	var out bytes.Buffer
	return NewSession(f, &out, &out), &out
}

// run executes a command line and returns what it printed.
func run(t testing.TB, s *Session, line string) string {
	t.Helper()
	out := s.stdout.(*bytes.Buffer)
	out.Reset()
	s.Execute(line)
	return out.String()
}

const (
	simpleParseDump = "trailofbits__manticore/tests/memdumps/simple_parse/simple_parse.dmp"
)
