package commands

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"

	"wdb/dump"
	"wdb/dump/dumpbuild"
	"wdb/sample"
)

// The built-in sample, generated once per architecture and written per
// test (sparse) with app.pdb beside it.
var (
	sampleMu   sync.Mutex
	sampleGens = map[string]*sample.Sample{}
)

// sampleDump is an opened sample: the dump, its directory (the symbol
// path) and what it contains.
type sampleDump struct {
	f     *dump.File
	dir   string
	truth sample.Truth
}

func openSample(t *testing.T, arch string) *sampleDump {
	t.Helper()
	sampleMu.Lock()
	g, ok := sampleGens[arch]
	if !ok {
		var err error
		if g, err = sample.Generate(sample.Options{Arch: arch}); err != nil {
			sampleMu.Unlock()
			t.Fatalf("sample.Generate(%s): %v", arch, err)
		}
		sampleGens[arch] = g
	}
	sampleMu.Unlock()
	dir := t.TempDir()
	path := filepath.Join(dir, "wdb-sample.dmp")
	if err := g.WriteFile(path); err != nil {
		t.Fatal(err)
	}
	f, err := dump.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return &sampleDump{f: f, dir: dir, truth: g.Truth}
}

// session opens a session on the sample with its symbols.
func (d *sampleDump) session(t *testing.T, out *bytes.Buffer) *Session {
	t.Helper()
	s := NewSession(d.f, out, out)
	if err := s.SetSymbolPath(d.dir); err != nil {
		t.Fatal(err)
	}
	return s
}

// tutorialDir points the progress files at a temporary directory.
func tutorialDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	old := tutorialConfigDir
	tutorialConfigDir = func() (string, error) { return dir, nil }
	t.Cleanup(func() { tutorialConfigDir = old })
	return dir
}

// newSessionMarker, as a command of a sample golden script, starts a new
// session on the same dump before it runs (it is a comment): wdb run again.
const newSessionMarker = "$$ --- wdb run again: a new session on the same dump ---"

// runSampleGolden runs cmds as a learner types them and compares the
// transcript ("0:000> cmd" and the output) with testdata/golden/NAME
// (-update rewrites it). It returns the last session.
func runSampleGolden(t *testing.T, d *sampleDump, name string, cmds []string, setup func(*Session)) *Session {
	t.Helper()
	var out bytes.Buffer
	open := func() *Session {
		s := d.session(t, &out)
		if setup != nil {
			setup(s)
		}
		return s
	}
	s := open()
	var got strings.Builder
	for _, cmd := range cmds {
		if cmd == newSessionMarker {
			s = open()
		}
		got.WriteString(strings.TrimRight(s.Prompt(), " ") + " " + cmd + "\n")
		out.Reset()
		s.Execute(cmd)
		got.Write(out.Bytes())
	}
	path := filepath.Join(goldenDir, name)
	if *updateGolden {
		if err := os.WriteFile(path, []byte(got.String()), 0o644); err != nil {
			t.Fatal(err)
		}
		return s
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("golden file: %v (run with -update to create it)", err)
	}
	if got.String() != string(want) {
		t.Errorf("%s differs (run with -update to accept):\n%s", path, goldenDiff(string(want), got.String()))
	}
	return s
}

// first256 is the first 256 KB view the sample created.
func first256(t *testing.T, tr sample.Truth) sample.View {
	t.Helper()
	for _, v := range tr.Views {
		if v.Size == 256<<10 {
			return v
		}
	}
	t.Fatal("the sample has no 256 KB view")
	return sample.View{}
}

// TestTutorialGolden drives the whole tutorial the way a new user would:
// the commands of each step typed by hand with the addresses the outputs
// showed, a wrong search and a wrong display (nudges), one hint, one skip,
// and wdb quit and run again in the middle (the progress file resumes it).
func TestTutorialGolden(t *testing.T) {
	tutorialDir(t)
	d := openSample(t, "x64")
	tr := d.truth
	v := first256(t, tr)
	a := func(x uint64) string { return FormatShortAddr(8, x) }
	cmds := []string{
		".tutorial",
		"!address -summary",
		".tutorial next",
		"!address -f:MEM_MAPPED",
		".tutorial next",
		"!address " + a(v.Base),
		".tutorial next",
		fmt.Sprintf("s -d 0 L?7fffffffffff %x", uint32(v.Base)), // a 4-byte search: nudged to s -q
		"s -q 0 L?7fffffffffff " + a(v.Base),
		".tutorial next",
		fmt.Sprintf("dqs %s L4", a(v.Buffer)), // the MessageBuffer: nudged on
		".tutorial hint",
		fmt.Sprintf("dqs %s L4", a(v.Serializer)),
		".tutorial next",
		"x app!CMMFSerializer::*",
		".tutorial next",
		".tutorial skip",
		newSessionMarker,
		".tutorial",
		".tutorial next",
		"!heap -x " + a(v.Serializer),
		".tutorial next",
		"!heap -srch " + a(v.Serializer),
		".tutorial next",
		fmt.Sprintf("dqs %s L5", a(v.Object)),
		".tutorial next",
		"!heap -stat",
		".tutorial next",
		".tutorial status",
	}
	s := runSampleGolden(t, d, "sample_tutorial.txt", cmds, nil)
	st := s.tutorial
	if st == nil || !st.Finished {
		t.Fatalf("the tutorial did not finish: %+v", st)
	}
	checkFacts(t, st, tr, v)
	if !reflect.DeepEqual(st.Hinted, []string{"look"}) || !reflect.DeepEqual(st.Skipped, []string{"instances"}) {
		t.Errorf("hinted %v skipped %v", st.Hinted, st.Skipped)
	}
}

// checkFacts compares what the tutorial recorded with the sample's truth.
func checkFacts(t *testing.T, st *tutorialState, tr sample.Truth, v sample.View) {
	t.Helper()
	f := st.Facts
	if f.ViewBase != v.Base || !reflect.DeepEqual(f.Holders, v.Holders) {
		t.Errorf("view %#x holders %x, want %#x %x", f.ViewBase, f.Holders, v.Base, v.Holders)
	}
	if f.MappedBytes != tr.MappedBytes {
		t.Errorf("mapped bytes %#x, want %#x", f.MappedBytes, tr.MappedBytes)
	}
	if f.SerializerVft != tr.SerializerVftable || f.OwnerVft != tr.CommunicatorVftable {
		t.Errorf("vftables %#x %#x, want %#x %#x", f.SerializerVft, f.OwnerVft, tr.SerializerVftable, tr.CommunicatorVftable)
	}
	if f.Serializer != v.Serializer || f.Owner != v.Object || f.OwnerSize != tr.CommunicatorSize {
		t.Errorf("serializer %#x owner %#x (%#x bytes), want %#x %#x (%#x)", f.Serializer, f.Owner, f.OwnerSize, v.Serializer, v.Object, tr.CommunicatorSize)
	}
	// Every view's CommunicatorObj, and the one whose Connect failed.
	if f.Count != uint64(len(tr.Objects)+1) {
		t.Errorf("count %d, want %d", f.Count, len(tr.Objects)+1)
	}
}

// TestTutorialSkipAll skips every step on both architectures: each skip
// runs a command that the step's check accepts.
func TestTutorialSkipAll(t *testing.T) {
	for _, arch := range []string{"x64", "x86"} {
		t.Run(arch, func(t *testing.T) {
			tutorialDir(t)
			d := openSample(t, arch)
			var out bytes.Buffer
			s := d.session(t, &out)
			s.Execute(".tutorial")
			for i := 1; i < len(tutorialSteps); i++ {
				out.Reset()
				s.Execute(".tutorial skip")
				text := out.String()
				if !strings.Contains(text, fmt.Sprintf("--- Tutorial: step %d of %d done", i, len(tutorialSteps))) || strings.Contains(text, "did not complete") {
					t.Fatalf("skip of step %d:\n%.3000s", i, text)
				}
			}
			out.Reset()
			s.Execute(".tutorial next")
			if !strings.Contains(out.String(), "Tutorial complete.") || !s.tutorial.Finished {
				t.Errorf("conclusion:\n%s", out.String())
			}
			v := sample.View{}
			for _, x := range d.truth.Views {
				if x.Base == s.tutorial.Facts.ViewBase {
					v = x
				}
			}
			checkFacts(t, s.tutorial, d.truth, v)
			if len(s.tutorial.Skipped) != len(tutorialSteps)-1 {
				t.Errorf("skipped %v", s.tutorial.Skipped)
			}
		})
	}
}

// TestTutorialScript runs the tutorial from a -c style line and in JSON
// mode, where the feedback is JSON records of ".tutorial".
func TestTutorialScript(t *testing.T) {
	tutorialDir(t)
	d := openSample(t, "x64")
	var out bytes.Buffer
	s := d.session(t, &out)
	s.Execute(".tutorial; !address -summary; .tutorial next")
	text := out.String()
	for _, want := range []string{"=== Tutorial step 1 of 12: The big picture", "--- Tutorial: step 1 of 12 done", "=== Tutorial step 2 of 12: List the mapped views"} {
		if !strings.Contains(text, want) {
			t.Errorf("missing %q in:\n%s", want, text)
		}
	}

	out.Reset()
	s.JSON = true
	s.Execute("!address -f:MEM_MAPPED; .tutorial status")
	var kinds []string
	for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		var rec struct {
			Command string        `json:"command"`
			Result  *TutorialView `json:"result"`
		}
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("not JSON: %v\n%.300s", err, line)
		}
		if rec.Command == ".tutorial" || rec.Command == ".tutorial status" {
			kinds = append(kinds, rec.Result.Kind)
		}
	}
	if !reflect.DeepEqual(kinds, []string{"done", "status"}) {
		t.Errorf("JSON tutorial records %v, want [done status]", kinds)
	}
}

// TestTutorialProgressFile checks the saved progress and that a broken or
// foreign file starts over.
func TestTutorialProgressFile(t *testing.T) {
	dir := tutorialDir(t)
	d := openSample(t, "x64")
	var out bytes.Buffer
	s := d.session(t, &out)
	s.Execute(".tutorial; .tutorial skip; .tutorial skip")
	path := filepath.Join(dir, "tutorial-"+dumpHash(d.f)+".json")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var saved tutorialState
	if err := json.Unmarshal(b, &saved); err != nil || saved.Step != 2 || saved.Facts.Views256 == 0 {
		t.Fatalf("progress file (%v): %s", err, b)
	}

	out.Reset()
	s2 := d.session(t, &out)
	s2.Execute(".tutorial")
	if !strings.Contains(out.String(), "Welcome back: resuming the tutorial at step 3 of 12") {
		t.Errorf("resume:\n%s", out.String())
	}

	os.WriteFile(path, []byte("{not json"), 0o644)
	out.Reset()
	s3 := d.session(t, &out)
	s3.Execute(".tutorial")
	if !strings.Contains(out.String(), "Welcome to the wdb tutorial") {
		t.Errorf("a broken progress file should start over:\n%s", out.String())
	}

	out.Reset()
	s3.Execute(".tutorial skip; .tutorial restart")
	if !strings.Contains(out.String(), "=== Tutorial step 1 of 12") || s3.tutorial.Step != 0 || s3.tutorial.Facts.MappedBytes != 0 {
		t.Errorf("restart:\n%s", out.String())
	}
}

// TestTutorialCommands covers next before a step is done, stop, errors,
// and commands that are not checked.
func TestTutorialCommands(t *testing.T) {
	tutorialDir(t)
	d := openSample(t, "x64")
	var out bytes.Buffer
	s := d.session(t, &out)
	run := func(line string) string {
		out.Reset()
		s.Execute(line)
		return out.String()
	}
	// Commands before .tutorial are not checked.
	if text := run("!address -summary"); strings.Contains(text, "Tutorial") {
		t.Errorf("checked before .tutorial:\n%s", text)
	}
	run(".tutorial")
	if text := run(".tutorial next"); !strings.Contains(text, "is not done yet") {
		t.Errorf("next before done:\n%s", text)
	}
	if text := run("k"); strings.Contains(text, "Tutorial") {
		t.Errorf("an unrelated command got feedback:\n%s", text)
	}
	if text := run("!address -summary -f:MEM_IMAGE"); !strings.Contains(text, "no MEM_MAPPED row") {
		t.Errorf("a filtered summary:\n%s", text)
	}
	if text := run(".tutorial stop"); !strings.Contains(text, "Tutorial stopped at step 1") {
		t.Errorf("stop:\n%s", text)
	}
	if text := run("!address -summary"); strings.Contains(text, "Tutorial") {
		t.Errorf("checked after stop:\n%s", text)
	}
	if text := run(".tutorial bogus"); !strings.Contains(text, "Unknown .tutorial option 'bogus'") {
		t.Errorf("bad option:\n%s", text)
	}
	if text := run(".tutorial hint"); !strings.Contains(text, "    !address -summary") {
		t.Errorf("hint:\n%s", text)
	}
}

// TestTutorialNeedsSample: other dumps, and no dump, get a clear message.
func TestTutorialNeedsSample(t *testing.T) {
	tutorialDir(t)
	b := dumpbuild.New(dumpbuild.X64)
	b.Module(dumpbuild.Module{Name: `C:\src\other\app.exe`, Base: 0x140000000, Size: 0x5000})
	b.Memory(0x1000000, make([]byte, 0x1000))
	raw, err := b.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	f, err := dump.OpenBytes(raw, "other.dmp")
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	for _, s := range []*Session{NewSession(f, &out, &out), NewSession(nil, &out, &out)} {
		out.Reset()
		if err := s.Execute(".tutorial"); err != errNotSample {
			t.Errorf(".tutorial: %v", err)
		}
		if !strings.Contains(out.String(), "run wdb with no arguments") {
			t.Errorf("message: %q", out.String())
		}
	}
}
