package unwind

import (
	"encoding/binary"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"wdb/dump"
	"wdb/dump/dumpbuild"
)

// checkBounded asserts what every walk must guarantee, whatever the stack
// holds: at most max frames, strictly increasing stack pointers inside the
// stack range, RetAddr linking the frames, and a reason when it stopped
// early.
func checkBounded(t *testing.T, frames []Frame, max int) {
	t.Helper()
	if len(frames) == 0 {
		t.Fatal("no frames")
	}
	if max <= 0 {
		max = DefaultMaxFrames
	}
	if len(frames) > max {
		t.Errorf("%d frames, max %d", len(frames), max)
	}
	for i := 1; i < len(frames); i++ {
		if frames[i].SP <= frames[i-1].SP {
			t.Errorf("frame %d: sp %#x not above %#x", i, frames[i].SP, frames[i-1].SP)
		}
		if frames[i-1].RetAddr != frames[i].IP {
			t.Errorf("frame %d: retaddr %#x, next ip %#x", i-1, frames[i-1].RetAddr, frames[i].IP)
		}
		if frames[i].Index != i || frames[i].Context == nil {
			t.Errorf("frame %d: index %d context %v", i, frames[i].Index, frames[i].Context)
		}
		if frames[i-1].Stop != "" {
			t.Errorf("frame %d (not last) has stop %q", i-1, frames[i-1].Stop)
		}
	}
}

// TestX64FrameLimit: a deep recursion stops at the frame limit.
func TestX64FrameLimit(t *testing.T) {
	x := buildX64Image()
	s := newStack(x64Stack, 0x30*300+0x100)
	sp := uint64(x64Stack + 0x10)
	for i := 0; i < 300; i++ {
		s.put64(sp+uint64(i)*0x30+0x28, x.at("R", 9))
	}
	f := x64Dump(t, x, true, dumpbuild.Thread{StackStart: s.start, Stack: s.b, Regs: map[string]uint64{"rip": x.at("R", 9), "rsp": sp}})
	frames, err := Walk(f, &f.Threads[0], nil, nil, nil, 100)
	if err != nil {
		t.Fatal(err)
	}
	checkBounded(t, frames, 100)
	if len(frames) != 100 || !strings.Contains(frames[99].Stop, "frame limit") {
		t.Errorf("%d frames, stop %q", len(frames), frames[len(frames)-1].Stop)
	}
	for i, fr := range frames {
		if fr.SP != sp+uint64(i)*0x30 {
			t.Fatalf("frame %d sp %#x", i, fr.SP)
		}
	}
}

// TestX64StackGoesDown: a machine frame that resumes below the current
// stack pointer ends the walk instead of looping.
func TestX64StackGoesDown(t *testing.T) {
	x := buildX64Image()
	s := newStack(x64Stack, 0x400)
	sp := uint64(x64Stack + 0x200)
	s.put64(sp+0x28, x.at("G", 9))
	s.put64(sp+0x40, sp-0x100) // resumed RSP, below
	f := x64Dump(t, x, true, dumpbuild.Thread{StackStart: s.start, Stack: s.b, Regs: map[string]uint64{"rip": x.at("M", 9), "rsp": sp}})
	frames, _ := Walk(f, &f.Threads[0], nil, nil, nil, 0)
	checkBounded(t, frames, 0)
	if len(frames) != 1 || !strings.Contains(frames[0].Stop, "not above") {
		t.Errorf("%d frames, stop %q", len(frames), frames[len(frames)-1].Stop)
	}
}

// TestX64OutsideStack: a caller stack pointer beyond the thread's stack
// (the TEB's StackBase) ends the walk.
func TestX64OutsideStack(t *testing.T) {
	x := buildX64Image()
	s := newStack(x64Stack, 0x400)
	sp := uint64(x64Stack + 0x200)
	s.put64(sp+0x28, x.at("G", 9))
	s.put64(sp+0x40, x64Stack+0x10000) // resumed RSP above StackBase
	teb := make([]byte, 0x40)
	binary.LittleEndian.PutUint64(teb[8:], x64Stack+0x400)   // StackBase
	binary.LittleEndian.PutUint64(teb[16:], x64Stack-0x1000) // StackLimit
	b := dumpbuild.New(dumpbuild.X64)
	b.Module(dumpbuild.Module{Name: `C:\test\unwtest.dll`, Base: x64Base, Size: peSize, TimeDateStamp: peTimestamp})
	b.Memory64(x64Base, x.img)
	b.Memory64(x64TEB, teb)
	b.Thread(dumpbuild.Thread{ID: 1, TEB: x64TEB, StackStart: s.start, Stack: s.b, Regs: map[string]uint64{"rip": x.at("M", 9), "rsp": sp}})
	raw, err := b.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	f, err := dump.OpenBytes(raw, "teb.dmp")
	if err != nil {
		t.Fatal(err)
	}
	frames, _ := Walk(f, &f.Threads[0], nil, nil, nil, 0)
	checkBounded(t, frames, 0)
	if len(frames) != 1 || !strings.Contains(frames[0].Stop, "outside the stack") {
		t.Errorf("%d frames, stop %q", len(frames), frames[len(frames)-1].Stop)
	}
}

// x86Dump is a 32-bit dump with one module (whose bytes are not captured,
// so any address in it counts as code) and one thread.
func x86Dump(t *testing.T, stackStart uint64, stack []byte, regs map[string]uint64) *dump.File {
	t.Helper()
	b := dumpbuild.New(dumpbuild.X86)
	b.Module(dumpbuild.Module{Name: `C:\test\app.exe`, Base: 0x400000, Size: 0x10000})
	b.Thread(dumpbuild.Thread{ID: 1, StackStart: stackStart, Stack: stack, Regs: regs})
	raw, err := b.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	f, err := dump.OpenBytes(raw, "x86.dmp")
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// TestX86FrameCycles: EBP chains that loop (a frame pointing at itself,
// two frames pointing at each other) end the walk.
func TestX86FrameCycles(t *testing.T) {
	const base = 0x100000
	s := newStack(base, 0x1000)
	// Self loop at 0x100100.
	s.put32(0x100100, 0x100100)
	s.put32(0x100104, 0x401000)
	// Two-frame loop: 0x100200 -> 0x100300 -> 0x100200.
	s.put32(0x100200, 0x100300)
	s.put32(0x100204, 0x401010)
	s.put32(0x100300, 0x100200)
	s.put32(0x100304, 0x401020)
	for _, ebp := range []uint64{0x100100, 0x100200} {
		f := x86Dump(t, base, s.b, map[string]uint64{"eip": 0x401234, "esp": base + 0x80, "ebp": ebp})
		w := &Walker{File: f, NoScan: true}
		frames, err := w.Walk(&f.Threads[0], nil)
		if err != nil {
			t.Fatal(err)
		}
		checkBounded(t, frames, 0)
		if len(frames) > 3 || frames[len(frames)-1].Stop == "" {
			t.Errorf("ebp %#x: %d frames, stop %q", ebp, len(frames), frames[len(frames)-1].Stop)
		}
	}
}

// TestGarbageStacks fills stacks with random words (some of them pointing
// into the module) and random registers: every walk must stay bounded.
func TestGarbageStacks(t *testing.T) {
	x := buildX64Image()
	r := rand.New(rand.NewSource(1))
	for i := 0; i < 200; i++ {
		garbageWalk(t, x, r.Int63(), i%2 == 0)
	}
}

// garbageWalk walks one random stack; x64 when is64, else x86.
func garbageWalk(t *testing.T, x *x64Image, seed int64, is64 bool) {
	t.Helper()
	r := rand.New(rand.NewSource(seed))
	var (
		f     *dump.File
		start uint64
		size  = 0x800
	)
	word := func() uint64 {
		switch r.Intn(4) {
		case 0:
			return start + uint64(r.Intn(size))
		case 1:
			if is64 {
				return x64Base + uint64(r.Intn(peSize))
			}
			return 0x400000 + uint64(r.Intn(0x10000))
		case 2:
			return 0
		}
		return r.Uint64()
	}
	if is64 {
		start = x64Stack
		s := newStack(start, size)
		for a := start; a < s.end(); a += 8 {
			s.put64(a, word())
		}
		regs := map[string]uint64{"rip": word(), "rsp": start + uint64(r.Intn(size/2))&^7, "rbp": word(), "rbx": word()}
		f = x64Dump(t, x, true, dumpbuild.Thread{StackStart: start, Stack: s.b, Regs: regs})
	} else {
		start = 0x100000
		s := newStack(start, size)
		for a := start; a < s.end(); a += 4 {
			s.put32(a, uint32(word()))
		}
		regs := map[string]uint64{"eip": word() & 0xffffffff, "esp": start + uint64(r.Intn(size/2))&^3, "ebp": word() & 0xffffffff}
		f = x86Dump(t, start, s.b, regs)
	}
	frames, err := Walk(f, &f.Threads[0], nil, nil, nil, 64)
	if err != nil {
		t.Fatal(err)
	}
	checkBounded(t, frames, 64)
	for _, fr := range frames[1:] {
		if fr.SP < start || fr.SP > start+uint64(size) {
			t.Errorf("seed %d: frame %d sp %#x outside the stack", seed, fr.Index, fr.SP)
		}
	}
}

// FuzzWalk walks stacks made of fuzzer bytes, x64 and x86.
func FuzzWalk(f *testing.F) {
	f.Add([]byte{0}, int64(1))
	f.Add([]byte("\x10\x10\x00\x10\xf6\x7f\x00\x00"), int64(7))
	x := buildX64Image()
	f.Fuzz(func(t *testing.T, data []byte, seed int64) {
		if len(data) == 0 {
			return
		}
		is64 := data[0]&1 == 0
		r := rand.New(rand.NewSource(seed))
		var fl *dump.File
		if is64 {
			s := newStack(x64Stack, 0x400)
			copy(s.b, data)
			fl = x64Dump(t, x, true, dumpbuild.Thread{StackStart: s.start, Stack: s.b,
				Regs: map[string]uint64{"rip": x64Base + uint64(r.Intn(peSize)), "rsp": x64Stack + uint64(r.Intn(0x200)), "rbp": x64Stack + uint64(r.Intn(0x400))}})
		} else {
			s := newStack(0x100000, 0x400)
			copy(s.b, data)
			fl = x86Dump(t, 0x100000, s.b, map[string]uint64{"eip": 0x400000 + uint64(r.Intn(0x10000)), "esp": 0x100000 + uint64(r.Intn(0x200)), "ebp": 0x100000 + uint64(r.Intn(0x400))})
		}
		frames, err := Walk(fl, &fl.Threads[0], nil, nil, nil, 32)
		if err != nil {
			t.Fatal(err)
		}
		checkBounded(t, frames, 32)
	})
}

// TestCorpusSweep walks every thread of every dump in the corpus (the
// crashed one from its exception context too), with no symbols and no
// image files, and checks that every walk is bounded. Frame counts and how
// frames were found are logged.
func TestCorpusSweep(t *testing.T) {
	root := corpus(t, ".")
	var paths []string
	filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(strings.ToLower(p), ".dmp") {
			paths = append(paths, p)
		}
		return nil
	})
	walks := 0
	for _, p := range paths {
		f, err := dump.Open(p)
		if err != nil {
			continue
		}
		hist := map[FoundBy]int{}
		frames := 0
		for i := range f.Threads {
			th := &f.Threads[i]
			ctxs := []*dump.Context{th.Context}
			if f.Exception != nil && f.Exception.ThreadID == th.ID && f.Exception.Context != nil {
				ctxs = append(ctxs, f.Exception.Context)
			}
			for _, c := range ctxs {
				if c == nil || (c.Arch != dump.ArchX86 && c.Arch != dump.ArchAMD64) {
					continue
				}
				fr, err := Walk(f, th, c, nil, nil, 0)
				if err != nil {
					t.Errorf("%s thread %d: %v", p, i, err)
					continue
				}
				checkBounded(t, fr, 0)
				walks++
				frames += len(fr)
				for _, x := range fr {
					hist[x.How]++
				}
			}
		}
		rel, _ := filepath.Rel(root, p)
		t.Logf("%-90s %-4v threads %2d frames %4d %v", rel, f.Arch(), len(f.Threads), frames, hist)
		f.Close()
	}
	t.Logf("%d dumps, %d walks", len(paths), walks)
}

// TestConcurrentWalks shares one Walker between goroutines, as ~*k may.
func TestConcurrentWalks(t *testing.T) {
	x := buildX64Image()
	s, regs := mainStack(x)
	var threads []dumpbuild.Thread
	for i := 0; i < 8; i++ {
		threads = append(threads, dumpbuild.Thread{StackStart: s.start, Stack: s.b, Regs: regs})
	}
	f := x64Dump(t, x, true, threads...)
	w := &Walker{File: f}
	done := make(chan []Frame)
	for i := range f.Threads {
		go func(th *dump.Thread) {
			fr, _ := w.Walk(th, nil)
			done <- fr
		}(&f.Threads[i])
	}
	for range f.Threads {
		checkFrames(t, <-done, mainWant(x))
	}
}
