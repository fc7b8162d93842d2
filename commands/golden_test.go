package commands

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"wdb/dump"
)

// Golden transcripts pin WinDbg output formats over real dumps. A golden
// file is a session transcript: each "0:000> cmd" line (the prompt as the
// session prints it, so "~1s" moves later prompts to 0:001>) is followed by
// that command's expected output. Run "go test ./commands -update" to
// rewrite the files from wdb's current output; to add a transcript, write a
// file holding only the command lines and run with -update, then check the
// result by eye against docs/windbg-commands.md and the corpus oracles.

var updateGolden = flag.Bool("update", false, "rewrite testdata/golden transcripts from current output")

// corpusDir is the shared corpus of real dumps, seen from the package dir.
const corpusDir = "../../shared/corpus"

// Corpus dumps with golden transcripts (paths under corpusDir).
const (
	goldenFPU       = "trailofbits__manticore/tests/memdumps/simple_fpu/simple_fpu.dmp"                                       // x86 Win7, full memory, int 3
	goldenMinidump2 = "google__breakpad/src/processor/testdata/minidump2.dmp"                                                 // x86 XP; oracle: minidump2.dump.out
	goldenStability = "rust-minidump__rust-minidump/testdata/stability-report.dmp"                                            // x64 Win11, thread names
	goldenWow64     = "ivellioscolin__kdlibcpp/kdlib/tests/dumps/targetapp_stacktest_wow64/targetapp_stacktest_wow64.cab.dmp" // WOW64, full memory
)

// goldenDumps maps the transcript file prefix to its dump.
var goldenDumps = []struct{ prefix, path string }{
	{"simple_fpu", goldenFPU},
	{"minidump2", goldenMinidump2},
	{"stability-report", goldenStability},
	{"targetapp_stacktest_wow64", goldenWow64},
}

// runGoldenTopic runs <prefix>_<topic>.txt for every golden dump that has one.
func runGoldenTopic(t *testing.T, topic string) {
	for _, d := range goldenDumps {
		name := d.prefix + "_" + topic + ".txt"
		if _, err := os.Stat(filepath.Join(goldenDir, name)); err != nil {
			continue
		}
		t.Run(d.prefix, func(t *testing.T) { runGolden(t, d.path, name) })
	}
}

// goldenDir holds the transcripts.
const goldenDir = "../testdata/golden"

// promptLine matches a transcript command line: "0:000> cmd".
var promptLine = regexp.MustCompile(`^\d+:\d{3}(:x86)?> ?`)

// corpusDump returns the path of a corpus dump, skipping the test when the
// corpus is not checked out beside the repository.
func corpusDump(t *testing.T, rel string) string {
	t.Helper()
	p := filepath.Join(corpusDir, filepath.FromSlash(rel))
	if _, err := os.Stat(p); err != nil {
		t.Skipf("corpus dump %s not available (%v): the shared corpus is expected at %s", rel, err, corpusDir)
	}
	return p
}

// openCorpusSession opens a corpus dump (skipping when absent) and returns a
// session writing to out.
func openCorpusSession(t *testing.T, rel string, out *bytes.Buffer) *Session {
	t.Helper()
	f, err := dump.Open(corpusDump(t, rel))
	if err != nil {
		t.Fatalf("open %s: %v", rel, err)
	}
	t.Cleanup(func() { f.Close() })
	return NewSession(f, out, out)
}

// runGolden replays the commands of goldenFile (a name under
// testdata/golden) on the dump at dumpPath (relative to the corpus root) and
// compares the transcript with the file.
func runGolden(t *testing.T, dumpPath, goldenFile string) {
	t.Helper()
	var out bytes.Buffer
	s := openCorpusSession(t, dumpPath, &out)
	runGoldenSession(t, s, &out, goldenFile)
}

// runGoldenSession replays a transcript on an open session whose output goes
// to out: for sessions that need a symbol path or a builder dump first.
func runGoldenSession(t *testing.T, s *Session, out *bytes.Buffer, goldenFile string) {
	t.Helper()
	path := filepath.Join(goldenDir, goldenFile)
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("golden file: %v (create it with the command lines, then run with -update)", err)
	}
	var cmds []string
	for _, line := range strings.Split(strings.ReplaceAll(string(want), "\r\n", "\n"), "\n") {
		if loc := promptLine.FindStringIndex(line); loc != nil {
			cmds = append(cmds, line[loc[1]:])
		}
	}
	if len(cmds) == 0 {
		t.Fatalf("%s holds no command lines (\"0:000> cmd\")", path)
	}
	var got strings.Builder
	for _, cmd := range cmds {
		got.WriteString(strings.TrimRight(s.Prompt(), " ") + " " + cmd + "\n")
		out.Reset()
		s.Execute(cmd)
		got.Write(out.Bytes())
	}
	if *updateGolden {
		if err := os.WriteFile(path, []byte(got.String()), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	if got.String() != string(want) {
		t.Errorf("%s differs (run with -update to accept):\n%s", path, goldenDiff(string(want), got.String()))
	}
}

// goldenDiff shows the first differing lines of two transcripts.
func goldenDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	var b strings.Builder
	shown := 0
	for i := 0; i < len(w) || i < len(g); i++ {
		var wl, gl string
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if wl == gl {
			continue
		}
		fmt.Fprintf(&b, "line %d:\n  want: %q\n  got:  %q\n", i+1, wl, gl)
		if shown++; shown >= 10 {
			b.WriteString("  …\n")
			break
		}
	}
	return b.String()
}
