package sample

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"wdb/commands"
	"wdb/dump"
	"wdb/heap"
	"wdb/unwind"
)

// opened is a generated sample written to a temporary directory and opened.
type opened struct {
	s    *Sample
	path string
	f    *dump.File
}

var (
	openOnce  = map[string]*sync.Once{"x64": {}, "x86": {}}
	openCache = map[string]*opened{}
	openErr   = map[string]error{}
	tmpRoot   string
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "wdb-sample-test")
	if err != nil {
		panic(err)
	}
	tmpRoot = dir
	code := m.Run()
	for _, o := range openCache {
		o.f.Close()
	}
	os.RemoveAll(dir)
	os.Exit(code)
}

// open generates the default sample of arch once per test binary.
func open(t *testing.T, arch string) *opened {
	t.Helper()
	openOnce[arch].Do(func() {
		s, err := Generate(Options{Arch: arch})
		if err != nil {
			openErr[arch] = err
			return
		}
		dir := filepath.Join(tmpRoot, arch)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			openErr[arch] = err
			return
		}
		p := filepath.Join(dir, "wdb-sample.dmp")
		if err := s.WriteFile(p); err != nil {
			openErr[arch] = err
			return
		}
		f, err := dump.Open(p)
		if err != nil {
			openErr[arch] = err
			return
		}
		openCache[arch] = &opened{s, p, f}
	})
	if err := openErr[arch]; err != nil {
		t.Fatal(err)
	}
	return openCache[arch]
}

// session opens a command session with the sample's directory as the
// symbol path.
func (o *opened) session(t *testing.T) (*commands.Session, *bytes.Buffer) {
	t.Helper()
	var out bytes.Buffer
	s := commands.NewSession(o.f, &out, &out)
	if err := s.SetSymbolPath(filepath.Dir(o.path)); err != nil {
		t.Fatal(err)
	}
	return s, &out
}

func run(t *testing.T, s *commands.Session, out *bytes.Buffer, line string) string {
	t.Helper()
	out.Reset()
	if err := s.Execute(line); err != nil {
		t.Fatalf("%s: %v\n%s", line, err, out.String())
	}
	return out.String()
}

// runJSON runs a command in JSON mode and decodes its result into v.
func runJSON(t *testing.T, s *commands.Session, out *bytes.Buffer, line string, v any) {
	t.Helper()
	s.JSON = true
	defer func() { s.JSON = false }()
	text := run(t, s, out, line)
	var rec struct {
		Result json.RawMessage `json:"result"`
		Error  string          `json:"error"`
	}
	if err := json.Unmarshal([]byte(text), &rec); err != nil {
		t.Fatalf("%s: not one JSON object: %v\n%.2000s", line, err, text)
	}
	if rec.Error != "" {
		t.Fatalf("%s: %s", line, rec.Error)
	}
	if err := json.Unmarshal(rec.Result, v); err != nil {
		t.Fatalf("%s: %v", line, err)
	}
}

func hexa(v uint64) string { return fmt.Sprintf("%x", v) }

// searchCmd is "s -q" on x64 and "s -d" on x86 over all user space.
func searchCmd(arch string, v uint64) string {
	if arch == "x86" {
		return fmt.Sprintf("s -d 0 L?7fffffff %x", v)
	}
	return fmt.Sprintf("s -q 0 L?7fffffffffff %x", v)
}

func dispCmd(arch string) string {
	if arch == "x86" {
		return "dds"
	}
	return "dqs"
}

func TestAssetsMatchFixtures(t *testing.T) {
	for _, arch := range []string{"x64", "x86"} {
		for _, name := range []string{"app.exe", "app.pdb"} {
			want, err := os.ReadFile(filepath.Join("..", "testdata", "fixtures", arch, name))
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(asset(arch, name), want) {
				t.Errorf("assets/%s/%s differs from testdata/fixtures; run go generate ./sample/", arch, name)
			}
		}
	}
}

// TestAppFactsMatchFixtures checks the generator's table against
// facts.json and the call sites against the code bytes.
func TestAppFactsMatchFixtures(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("..", "testdata", "fixtures", "facts.json"))
	if err != nil {
		t.Fatal(err)
	}
	var facts map[string]json.RawMessage
	if err := json.Unmarshal(raw, &facts); err != nil {
		t.Fatal(err)
	}
	for _, a := range []appFacts{appX64, appX86} {
		var f struct {
			GUID          string            `json:"guid"`
			ImageBase     uint64            `json:"imageBase"`
			SizeOfImage   uint32            `json:"sizeOfImage"`
			TimeDateStamp uint32            `json:"timeDateStamp"`
			EntryPointRva uint32            `json:"entryPointRva"`
			Symbols       map[string]uint32 `json:"symbols"`
			Publics       map[string]uint32 `json:"publics"`
		}
		if err := json.Unmarshal(facts[a.arch], &f); err != nil {
			t.Fatal(err)
		}
		check := func(what string, got, want uint32) {
			if got != want {
				t.Errorf("%s %s: %#x, facts.json says %#x", a.arch, what, got, want)
			}
		}
		if f.GUID != a.guid || f.ImageBase != a.base {
			t.Errorf("%s: guid %s base %#x, facts.json %s %#x", a.arch, a.guid, a.base, f.GUID, f.ImageBase)
		}
		check("SizeOfImage", a.size, f.SizeOfImage)
		check("TimeDateStamp", a.timestamp, f.TimeDateStamp)
		check("AppMain", a.appMain, f.EntryPointRva)
		for name, got := range map[string]uint32{
			"CMMFSerializer::`vftable'": a.vftSerializer, "CommunicatorObj::`vftable'": a.vftCommunicator,
			"MessageBuffer::`vftable'": a.vftBuffer, "CMMFSerializer::Open": a.open, "CommunicatorObj::Connect": a.connect,
			"LeakOne": a.leakOne, "AppMain": a.appMain, "g_communicators": a.gCommunicators, "g_count": a.gCount,
			"CMMFSerializer::s_openViews": a.sOpenViews, "`anonymous namespace'::s_nextId": a.sNextID,
		} {
			check(name, got, f.Symbols[name])
		}
		for name, slot := range a.iat {
			pub := "__imp_" + name
			if a.arch == "x86" {
				for p := range f.Publics {
					if strings.HasPrefix(p, "__imp__"+name+"@") {
						pub = p
					}
				}
			}
			check(pub, slot, f.Publics[pub])
		}
		mem, _, err := mapImage(asset(a.arch, "app.exe"))
		if err != nil {
			t.Fatal(err)
		}
		for name, r := range map[string]uint32{"Open": a.retOpen, "Connect": a.retConnect, "LeakOne": a.retLeakOne, "AppMain": a.retAppMain} {
			b := mem[r-6 : r]
			if b[1] != 0xe8 && !(b[0] == 0xff && b[1] == 0x15) && !(b[3] == 0xff && b[4]>>3&7 == 2) && !(b[4] == 0xff && b[5]>>3&7 == 2) {
				t.Errorf("%s: no call instruction before the return address %#x in %s: % x", a.arch, r, name, b)
			}
		}
	}
}

func TestDeterministic(t *testing.T) {
	a, err := Generate(Options{})
	if err != nil {
		t.Fatal(err)
	}
	b, err := Generate(Options{})
	if err != nil {
		t.Fatal(err)
	}
	ab, err := a.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	bb, err := b.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(ab, bb) {
		t.Fatal("two generations of the default sample differ")
	}
	c, err := Generate(Options{Seed: 7})
	if err != nil {
		t.Fatal(err)
	}
	cb, _ := c.Bytes()
	if bytes.Equal(ab, cb) {
		t.Error("another seed gives the same sample")
	}
	if testing.Short() {
		return
	}
	x1, err := Generate(Options{Arch: "x86"})
	if err != nil {
		t.Fatal(err)
	}
	x2, err := Generate(Options{Arch: "x86"})
	if err != nil {
		t.Fatal(err)
	}
	if digest(t, x1) != digest(t, x2) {
		t.Fatal("two generations of the x86 sample differ")
	}
}

func digest(t *testing.T, s *Sample) [32]byte {
	h := sha256.New()
	if _, err := s.image.WriteTo(h); err != nil {
		t.Fatal(err)
	}
	var d [32]byte
	copy(d[:], h.Sum(nil))
	return d
}

func TestOptions(t *testing.T) {
	for _, o := range []Options{{Arch: "arm64"}, {Scale: "huge"}, {Views: -1}, {Views: 20001}} {
		if _, err := Generate(o); err == nil {
			t.Errorf("Generate(%+v) accepted", o)
		}
	}
	s, err := Generate(Options{Views: 12})
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Truth.Views) != 12 {
		t.Errorf("%d views, want 12", len(s.Truth.Views))
	}
}

// TestTruth checks the facts the sample promises.
func TestTruth(t *testing.T) {
	for _, arch := range []string{"x64", "x86"} {
		t.Run(arch, func(t *testing.T) {
			o := open(t, arch)
			tr := o.s.Truth
			wantViews := 300
			if arch == "x86" {
				wantViews = 2300
			}
			if len(tr.Views) != wantViews || len(tr.Objects) != wantViews {
				t.Fatalf("%d views, %d objects", len(tr.Views), len(tr.Objects))
			}
			n512 := 0
			for _, v := range tr.Views {
				if v.Base%0x10000 != 0 {
					t.Errorf("view %#x is not on a 64 KB boundary", v.Base)
				}
				if len(v.Holders) < 10 {
					t.Errorf("view %#x has %d holders", v.Base, len(v.Holders))
				}
				switch v.Size {
				case 512 * kb:
					n512++
				case 256 * kb:
				default:
					t.Errorf("view %#x of %#x bytes", v.Base, v.Size)
				}
			}
			if arch == "x86" && n512 != 500 {
				t.Errorf("%d views of 512 KB, want 500", n512)
			}
			if arch == "x86" {
				if tr.LargestFree != largestFreeX86 {
					t.Errorf("largest free region %#x, want 1.5 MB", tr.LargestFree)
				}
				if tr.FailedRequest <= tr.LargestFree {
					t.Errorf("failed request %#x fits the largest free region", tr.FailedRequest)
				}
				near(t, "MEM_MAPPED", tr.MappedBytes, seedMapped)
				near(t, "MEM_PRIVATE", tr.PrivateBytes, seedPrivate)
			}
			if tr.MappedBytes <= tr.PrivateBytes {
				t.Errorf("MEM_MAPPED %#x not above MEM_PRIVATE %#x", tr.MappedBytes, tr.PrivateBytes)
			}
		})
	}
}

// near checks that got is within 1 MB of want.
func near(t *testing.T, what string, got, want uint64) {
	t.Helper()
	if got+mb < want || got > want+mb {
		t.Errorf("%s = %#x (%.3f MB), want about %.0f MB", what, got, float64(got)/mb, float64(want)/mb)
	}
}

// TestStory drives the analysis of PRODUCT.md through real commands.
func TestStory(t *testing.T) {
	for _, arch := range []string{"x64", "x86"} {
		t.Run(arch, func(t *testing.T) {
			o := open(t, arch)
			tr := o.s.Truth
			s, out := o.session(t)

			// !address -summary: the type totals.
			var sum commands.AddressSummary
			runJSON(t, s, out, "!address -summary", &sum)
			types := map[string]uint64{}
			for _, r := range sum.Type {
				types[r.Name] = r.Size
			}
			if types["MEM_MAPPED"] != tr.MappedBytes || types["MEM_PRIVATE"] != tr.PrivateBytes || types["MEM_IMAGE"] != tr.ImageBytes {
				t.Errorf("type summary %v, truth mapped %#x private %#x image %#x", types, tr.MappedBytes, tr.PrivateBytes, tr.ImageBytes)
			}
			for _, r := range sum.Usage {
				if r.Name == "Free" && r.LargestLen != tr.LargestFree {
					t.Errorf("largest free %#x, truth %#x", r.LargestLen, tr.LargestFree)
				}
			}
			text := run(t, s, out, "!address -summary")
			if !strings.Contains(text, "MEM_MAPPED") || !strings.Contains(text, "MEM_PRIVATE") {
				t.Errorf("summary text:\n%s", text)
			}

			// !address -f:MEM_MAPPED lists every view.
			var list struct {
				Regions []commands.RegionRow `json:"regions"`
			}
			runJSON(t, s, out, "!address -f:MEM_MAPPED", &list)
			listed := map[uint64]uint64{}
			for _, r := range list.Regions {
				if r.Type != "MEM_MAPPED" {
					t.Errorf("-f:MEM_MAPPED lists %+v", r)
				}
				listed[r.Base] = r.Size
			}
			for _, v := range tr.Views {
				if listed[v.Base] != v.Size {
					t.Errorf("view %#x (%#x bytes) listed as %#x", v.Base, v.Size, listed[v.Base])
				}
			}
			views := 0
			for _, r := range list.Regions {
				if r.Size == 256*kb || r.Size == 512*kb {
					views++
				}
			}
			if views != len(tr.Views) {
				t.Errorf("-f:MEM_MAPPED has %d regions of 256/512 KB, want %d", views, len(tr.Views))
			}

			// s finds every holder of a view's base, nothing else.
			for _, vi := range []int{0, len(tr.Views) / 2, len(tr.Views) - 1} {
				v := tr.Views[vi]
				var res commands.SearchResult
				runJSON(t, s, out, searchCmd(arch, v.Base), &res)
				var hits []uint64
				for _, h := range res.Hits {
					hits = append(hits, h.Address)
				}
				if fmt.Sprint(hits) != fmt.Sprint(v.Holders) || len(hits) < 10 {
					t.Errorf("view %d: s found %x, holders %x", vi, hits, v.Holders)
				}
			}

			// dqs/dds at a holder minus 8 shows the serializer's vftable.
			v := tr.Views[0]
			d := run(t, s, out, fmt.Sprintf("%s %x L4", dispCmd(arch), v.Serializer+HolderOffset-8))
			if !strings.Contains(d, "app!CMMFSerializer::`vftable'") {
				t.Errorf("%s at the serializer:\n%s", dispCmd(arch), d)
			}
			d = run(t, s, out, fmt.Sprintf("%s %x L4", dispCmd(arch), v.Object))
			if !strings.Contains(d, "app!CommunicatorObj::`vftable'") {
				t.Errorf("%s at the communicator:\n%s", dispCmd(arch), d)
			}
			d = run(t, s, out, fmt.Sprintf("%s %x L2", dispCmd(arch), v.Buffer))
			if !strings.Contains(d, "app!MessageBuffer::`vftable'") {
				t.Errorf("%s at the buffer:\n%s", dispCmd(arch), d)
			}

			// The view holds the messages its buffer counts.
			d = run(t, s, out, fmt.Sprintf("da %x", v.Base))
			if !strings.Contains(d, "MSG:wdb fixture") {
				t.Errorf("da at the view:\n%s", d)
			}

			// x gives the vftable's address.
			x := run(t, s, out, "x app!CMMFSerializer::*")
			addr := commands.FormatAddr(tr.PointerSize, tr.SerializerVftable)
			if !strings.Contains(x, addr+" app!CMMFSerializer::`vftable'") && !strings.Contains(x, addr+"          app!CMMFSerializer::`vftable'") {
				t.Errorf("x app!CMMFSerializer::* does not list the vftable at %s:\n%s", addr, x)
			}

			// Searching for the vftables finds every serializer and
			// communicator (the failing one included); other hits are in
			// the app's code (x86 immediates) or on the stack.
			serializers, objects := map[uint64]bool{tr.FailedSerializer: true}, map[uint64]bool{tr.FailedObject: true}
			for _, v := range tr.Views {
				serializers[v.Serializer], objects[v.Object] = true, true
			}
			for name, c := range map[string]struct {
				vft  uint64
				want map[uint64]bool
			}{"serializer": {tr.SerializerVftable, serializers}, "communicator": {tr.CommunicatorVftable, objects}} {
				var res commands.SearchResult
				runJSON(t, s, out, searchCmd(arch, c.vft), &res)
				found := 0
				for _, h := range res.Hits {
					switch {
					case c.want[h.Address]:
						found++
					case h.Address >= tr.ProcessHeap && h.Address < tr.ProcessHeap+16*mb:
						t.Errorf("%s vftable at %#x: a heap hit that is no object", name, h.Address)
					}
				}
				if name == "serializer" && found != len(tr.Views)+1 {
					t.Errorf("serializer vftable: %d of %d serializers found", found, len(tr.Views)+1)
				}
				if name == "communicator" && found != len(tr.Objects)+1 {
					t.Errorf("communicator vftable: %d of %d objects found", found, len(tr.Objects)+1)
				}
			}

			// The import table is bound: MapViewOfFile goes to KERNEL32's stub.
			imp := "__imp_MapViewOfFile"
			if arch == "x86" {
				imp = "__imp__MapViewOfFile@20"
			}
			d = run(t, s, out, fmt.Sprintf("%s app!%s L1", dispCmd(arch), imp))
			if !strings.Contains(d, "KERNEL32!MapViewOfFile") {
				t.Errorf("the IAT slot:\n%s", d)
			}
			x = run(t, s, out, "x KERNELBASE!MapViewOfFile")
			if !strings.Contains(x, commands.FormatAddr(tr.PointerSize, tr.MapViewOfFile)) {
				t.Errorf("x KERNELBASE!MapViewOfFile:\n%s", x)
			}

			// The failing thread's stack shows the path to MapViewOfFile.
			d = run(t, s, out, fmt.Sprintf("dps %x L100", tr.StackPointer))
			for _, r := range tr.ReturnAddresses {
				if !strings.Contains(d, commands.FormatAddr(tr.PointerSize, r)) {
					t.Errorf("dps of the stack lacks %#x", r)
				}
			}
			for _, want := range []string{"KERNELBASE!MapViewOfFile+0x", "app!CMMFSerializer::Open+0x", "app!CommunicatorObj::Connect+0x",
				"app!LeakOne+0x", "app!AppMain+0x", "KERNEL32!BaseThreadInitThunk+0x", "ntdll!RtlUserThreadStart+0x"} {
				if !strings.Contains(d, want) {
					t.Errorf("dps of the stack lacks %s", want)
				}
			}
		})
	}
}

// TestDumpModel checks the target as package dump reads it.
func TestDumpModel(t *testing.T) {
	for _, arch := range []string{"x64", "x86"} {
		t.Run(arch, func(t *testing.T) {
			o := open(t, arch)
			f, tr := o.f, o.s.Truth
			if len(f.Warnings) > 0 {
				t.Errorf("warnings: %v", f.Warnings)
			}
			e := f.Exception
			if e == nil || e.Code != statusNoMemory || e.Address != tr.ExceptionAddress || e.ThreadID != tr.ThreadID ||
				e.NumberParameters != 1 || e.Parameters[0] != tr.FailedRequest {
				t.Fatalf("exception %+v", e)
			}
			if e.Context == nil || e.Context.PC() != tr.ExceptionAddress || e.Context.SP() != tr.StackPointer {
				t.Errorf("exception context %+v", e.Context)
			}
			if len(f.Threads) != 3 || f.Threads[0].ID != tr.ThreadID {
				t.Fatalf("threads %+v", f.Threads)
			}
			if len(f.Modules) != 4 || f.Modules[0].CodeView == nil || f.Modules[0].CodeView.PDBName != PDBName {
				t.Errorf("modules %+v", f.Modules)
			}
			peb, err := f.PEB()
			if err != nil {
				t.Fatal(err)
			}
			heaps, err := f.ProcessHeaps(peb, f.Layout())
			if err != nil || fmt.Sprint(heaps) != fmt.Sprint(tr.Heaps) {
				t.Errorf("ProcessHeaps %x %v, want %x", heaps, err, tr.Heaps)
			}
			if last, err := f.ReadUint(f.Threads[0].TEB+map[string]uint64{"x64": 0x68, "x86": 0x34}[arch], 4); err != nil || last != 8 {
				t.Errorf("LastErrorValue %d %v, want 8", last, err)
			}
			usage := map[dump.Usage]int{}
			for _, r := range f.Regions() {
				usage[r.Usage]++
			}
			for _, u := range []dump.Usage{dump.UsageImage, dump.UsageStack, dump.UsageTEB, dump.UsagePEB, dump.UsageHeap} {
				if usage[u] == 0 {
					t.Errorf("no %v region", u)
				}
			}
			if len(f.Handles) < len(tr.Views) {
				t.Errorf("%d handles", len(f.Handles))
			}
		})
	}
}

// TestHeapWalk walks the heaps with package heap: no problems, the
// holders are in busy blocks, the objects are busy blocks of their size.
func TestHeapWalk(t *testing.T) {
	for _, arch := range []string{"x64", "x86"} {
		t.Run(arch, func(t *testing.T) {
			o := open(t, arch)
			tr := o.s.Truth
			p, err := heap.Open(o.f, 0)
			if err != nil {
				t.Fatal(err)
			}
			if len(p.Problems) > 0 || len(p.Heaps) != len(tr.Heaps) {
				t.Fatalf("problems %v, %d heaps", p.Problems, len(p.Heaps))
			}
			sized := 0
			for _, h := range p.Heaps {
				probs, err := h.Blocks(context.Background(), func(b heap.Block) bool {
					if b.State == heap.Busy && b.UserSize == tr.CommunicatorSize {
						sized++
					}
					return true
				})
				if err != nil || len(probs) > 0 || len(h.Problems) > 0 {
					t.Errorf("heap %#x: %v %v %v", h.Address, err, probs, h.Problems)
				}
			}
			if sized != tr.SizeBlocks {
				t.Errorf("%d busy blocks of %#x bytes, truth %d", sized, tr.CommunicatorSize, tr.SizeBlocks)
			}
			for _, vi := range []int{0, len(tr.Views) - 1} {
				v := tr.Views[vi]
				for _, h := range v.Holders {
					b, hp, ok := p.Find(h)
					if !ok || b.State != heap.Busy || hp.Address != tr.ProcessHeap {
						t.Errorf("holder %#x: block %+v found %v", h, b, ok)
					}
				}
				for what, a := range map[string]uint64{"object": v.Object, "serializer": v.Serializer, "buffer": v.Buffer} {
					b, _, ok := p.Find(a)
					if !ok || b.User != a || b.State != heap.Busy {
						t.Errorf("%s %#x: block %+v", what, a, b)
					}
				}
				if b, _, _ := p.Find(v.Object); b.UserSize != tr.CommunicatorSize {
					t.Errorf("object %#x has %#x bytes", v.Object, b.UserSize)
				}
			}
			if commands.Names() != nil {
				if _, ok := commands.Lookup("!heap"); ok {
					s, out := o.session(t)
					x := run(t, s, out, fmt.Sprintf("!heap -x %x", tr.Views[0].Serializer+HolderOffset))
					if !strings.Contains(strings.ToLower(x), "busy") {
						t.Errorf("!heap -x:\n%s", x)
					}
					flt := run(t, s, out, fmt.Sprintf("!heap -flt s %x", tr.CommunicatorSize))
					if c := strings.Count(flt, "\n"); c < tr.SizeBlocks {
						t.Errorf("!heap -flt s %x: %d lines, want at least %d blocks", tr.CommunicatorSize, c, tr.SizeBlocks)
					}
				}
			}
		})
	}
}

// TestUnwind walks the failing thread: the system DLLs' frames come from
// their unwind information (x64) or EBP frames (x86) down to
// app!CMMFSerializer::Open, and the worker threads unwind to
// RtlUserThreadStart.
func TestUnwind(t *testing.T) {
	for _, arch := range []string{"x64", "x86"} {
		t.Run(arch, func(t *testing.T) {
			o := open(t, arch)
			tr := o.s.Truth
			frames, err := unwind.Walk(o.f, &o.f.Threads[0], nil, nil, nil, 0)
			if err != nil {
				t.Fatal(err)
			}
			want := append([]uint64{tr.ExceptionAddress}, tr.ReturnAddresses[:2]...)
			if len(frames) < len(want) {
				t.Fatalf("%d frames", len(frames))
			}
			for i, w := range want {
				if frames[i].IP != w {
					t.Errorf("frame %d at %#x, want %#x", i, frames[i].IP, w)
				}
			}
			for ti := 1; ti < len(o.f.Threads); ti++ {
				frames, err := unwind.Walk(o.f, &o.f.Threads[ti], nil, nil, nil, 0)
				if err != nil {
					t.Fatal(err)
				}
				// The last two frames are the thread's start.
				n, ra := len(frames), tr.ReturnAddresses
				if n < 3 || frames[n-1].IP != ra[len(ra)-1] || frames[n-2].IP != ra[len(ra)-2] {
					t.Errorf("worker %d: %d frames, last %#x", ti, n, frames[n-1].IP)
				}
			}
		})
	}
}

func TestEnsure(t *testing.T) {
	dir := t.TempDir()
	old := filepath.Join(dir, "v0-old", "x64-default")
	if err := os.MkdirAll(old, 0o755); err != nil {
		t.Fatal(err)
	}
	p, err := Ensure(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(p), PDBName)); err != nil {
		t.Error(err)
	}
	if _, err := os.Stat(old); !os.IsNotExist(err) {
		t.Errorf("old sample not removed: %v", err)
	}
	st1, _ := os.Stat(p)
	p2, err := Ensure(dir, Options{})
	if err != nil || p2 != p {
		t.Fatalf("second Ensure: %s %v", p2, err)
	}
	st2, _ := os.Stat(p2)
	if !st1.ModTime().Equal(st2.ModTime()) {
		t.Error("the cached sample was written again")
	}
}

// TestSeedScale writes the seed-scale x64 sample (a sparse file of about
// 1.8 GB) and checks !address -summary's totals.
func TestSeedScale(t *testing.T) {
	if testing.Short() {
		t.Skip("writes a 1.8 GB sparse file")
	}
	s, err := Generate(Options{Scale: ScaleSeed})
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "seed.dmp")
	if err := s.WriteFile(p); err != nil {
		t.Fatal(err)
	}
	f, err := dump.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out bytes.Buffer
	ss := commands.NewSession(f, &out, &out)
	var sum commands.AddressSummary
	runJSON(t, ss, &out, "!address -summary", &sum)
	for _, r := range sum.Type {
		switch r.Name {
		case "MEM_MAPPED":
			near(t, "MEM_MAPPED", r.Size, seedMapped)
		case "MEM_PRIVATE":
			near(t, "MEM_PRIVATE", r.Size, seedPrivate)
		}
	}
	text := run(t, ss, &out, "!address -summary")
	if !strings.Contains(text, "(934.250 MB)") || !strings.Contains(text, "(805.188 MB)") {
		t.Errorf("summary:\n%s", text)
	}
	n256, n512 := 0, 0
	for _, v := range s.Truth.Views {
		if v.Size == 256*kb {
			n256++
		} else {
			n512++
		}
	}
	if n256 != 1800 || n512 != 500 {
		t.Errorf("%d views of 256 KB and %d of 512 KB, want 1800 and 500", n256, n512)
	}
	if st, err := os.Stat(p); err == nil {
		t.Logf("seed sample: %d bytes logical", st.Size())
	}
}

func BenchmarkDefaultSample(b *testing.B) {
	dir := b.TempDir()
	for b.Loop() {
		s, err := Generate(Options{})
		if err != nil {
			b.Fatal(err)
		}
		if err := s.WriteFile(filepath.Join(dir, "s.dmp")); err != nil {
			b.Fatal(err)
		}
	}
}
