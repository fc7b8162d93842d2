package dumpbuild

import (
	"bytes"
	"strings"
	"testing"

	"wdb/dump"
)

func broken(t *testing.T, m Malformation, streams ...dump.StreamType) (raw, raw) {
	t.Helper()
	good := mustBytes(t, richX64())
	b := richX64()
	b.Break(m, streams...)
	return good, mustBytes(t, b)
}

func dirOf(r raw) []dent { _, d := parseHeader(r); return d }

func TestMalformationsHeader(t *testing.T) {
	good, bad := broken(t, BadSignature)
	if string(bad.b[:4]) != "PMDM" || !bytes.Equal(good.b[4:], bad.b[4:]) {
		t.Error("BadSignature")
	}
	_, bad = broken(t, BadVersion)
	if bad.u32(4) != 0x0a060000 {
		t.Errorf("BadVersion %#x", bad.u32(4))
	}
	_, bad = broken(t, BadStreamCount)
	if bad.u32(8) != 0xffffffff {
		t.Error("BadStreamCount")
	}
	_, bad = broken(t, DirectoryPastEOF)
	if int(bad.u32(12)) <= len(bad.b) {
		t.Error("DirectoryPastEOF")
	}
}

func TestMalformationsDirectory(t *testing.T) {
	good, bad := broken(t, StreamPastEOF, dump.StreamModuleList)
	gd, bd := dirOf(good), dirOf(bad)
	for i := range gd {
		if gd[i].typ == dump.StreamModuleList {
			if int(bd[i].rva) <= len(bad.b) || bd[i].size != gd[i].size {
				t.Errorf("StreamPastEOF entry %+v", bd[i])
			}
		} else if gd[i] != bd[i] {
			t.Errorf("StreamPastEOF touched %v", gd[i].typ)
		}
	}

	_, bad = broken(t, StreamSizePastEOF, dump.StreamSystemInfo)
	for _, d := range dirOf(bad) {
		if d.typ == dump.StreamSystemInfo && int(d.rva)+int(d.size) != len(bad.b)+256 {
			t.Errorf("StreamSizePastEOF %+v, file %d", d, len(bad.b))
		}
	}

	good, bad = broken(t, TruncatedStreams)
	gd, bd = dirOf(good), dirOf(bad)
	for i := range gd {
		if bd[i].size != gd[i].size/2 || bd[i].rva != gd[i].rva {
			t.Errorf("TruncatedStreams %v: %d -> %d", gd[i].typ, gd[i].size, bd[i].size)
		}
	}

	good, bad = broken(t, OverlappingStreams, dump.StreamThreadList)
	gd, bd = dirOf(good), dirOf(bad)
	if gd[0].typ != dump.StreamThreadList || bd[0].size <= gd[0].size || bd[0].rva+bd[0].size != gd[1].rva+gd[1].size {
		t.Errorf("OverlappingStreams %+v vs %+v, next %+v", bd[0], gd[0], gd[1])
	}

	good, bad = broken(t, DuplicateStreams, dump.StreamSystemInfo, dump.StreamModuleList)
	gd, bd = dirOf(good), dirOf(bad)
	if len(bd) != len(gd)+2 || bad.u32(12) != 32 {
		t.Fatalf("DuplicateStreams: %d entries, want %d", len(bd), len(gd)+2)
	}
	for i := 1; i < len(bd); i++ {
		if bd[i].typ == dump.StreamSystemInfo || bd[i].typ == dump.StreamModuleList {
			if bd[i-1] != bd[i] && (i+1 >= len(bd) || bd[i+1] != bd[i]) {
				t.Errorf("DuplicateStreams: %v not repeated", bd[i].typ)
			}
		}
	}

	good, bad = broken(t, MissingStreams, dump.StreamSystemInfo)
	if has(bad, dump.StreamSystemInfo) || len(dirOf(bad)) != len(dirOf(good))-1 || !has(bad, dump.StreamThreadList) {
		t.Error("MissingStreams")
	}
}

func TestMalformationsFields(t *testing.T) {
	_, bad := broken(t, HugeCounts, dump.StreamModuleList, dump.StreamMemoryInfoList, dump.StreamException)
	if o, _ := find(bad, dump.StreamModuleList); bad.u32(o) != 0xffffffff {
		t.Error("HugeCounts module list")
	}
	if o, _ := find(bad, dump.StreamMemoryInfoList); bad.u64(o+8) != ^uint64(0) {
		t.Error("HugeCounts memory info list")
	}
	if o, _ := find(bad, dump.StreamException); bad.u32(o+32) != 0xffffffff {
		t.Error("HugeCounts exception parameters")
	}
	if o, _ := find(bad, dump.StreamThreadList); bad.u32(o) != 2 {
		t.Error("HugeCounts touched an untargeted stream")
	}

	_, bad = broken(t, BadEntrySizes)
	for _, s := range []dump.StreamType{dump.StreamUnloadedModuleList, dump.StreamThreadInfoList, dump.StreamHandleData, dump.StreamMemoryInfoList} {
		if o, _ := find(bad, s); bad.u32(o) != 0xffffffff || bad.u32(o+4) != 0 {
			t.Errorf("BadEntrySizes %v: % x", s, bad.b[o:o+8])
		}
	}

	_, bad = broken(t, MemoryRVAPastEOF)
	o, _ := find(bad, dump.StreamMemoryList)
	to, _ := find(bad, dump.StreamThreadList)
	if int(bad.u32(o+4+12)) <= len(bad.b) || int(bad.u32(o+4+16+12)) <= len(bad.b) || int(bad.u32(to+4+36)) <= len(bad.b) {
		t.Error("MemoryRVAPastEOF")
	}

	_, bad = broken(t, StringPastEOF, dump.StreamThreadNames, dump.StreamModuleList)
	o, _ = find(bad, dump.StreamThreadNames)
	mo, _ := find(bad, dump.StreamModuleList)
	so, _ := find(bad, dump.StreamSystemInfo)
	if bad.u64(o+8) <= uint64(len(bad.b)) || int(bad.u32(mo+4+20)) <= len(bad.b) || int(bad.u32(so+24)) >= len(bad.b) {
		t.Error("StringPastEOF")
	}

	_, bad = broken(t, BadStringLength, dump.StreamSystemInfo)
	so, _ = find(bad, dump.StreamSystemInfo)
	mo, _ = find(bad, dump.StreamModuleList)
	if bad.u32(int(bad.u32(so+24))) != 0xffffffff || bad.u32(int(bad.u32(mo+4+20))) == 0xffffffff {
		t.Error("BadStringLength")
	}

	_, bad = broken(t, ContextTooSmall)
	to, _ = find(bad, dump.StreamThreadList)
	eo, _ := find(bad, dump.StreamException)
	if bad.u32(to+4+40) != 16 || bad.u32(to+4+48+40) != 16 || bad.u32(eo+160) != 16 {
		t.Error("ContextTooSmall")
	}

	_, bad = broken(t, ContextPastEOF, dump.StreamException)
	to, _ = find(bad, dump.StreamThreadList)
	eo, _ = find(bad, dump.StreamException)
	if int(bad.u32(eo+164)) <= len(bad.b) || int(bad.u32(to+4+44)) >= len(bad.b) {
		t.Error("ContextPastEOF")
	}

	_, bad = broken(t, CodeViewPastEOF)
	mo, _ = find(bad, dump.StreamModuleList)
	if int(bad.u32(mo+4+80)) <= len(bad.b) || bad.u32(mo+4+108+80) != 0 {
		t.Error("CodeViewPastEOF")
	}
	_, bad = broken(t, BadCodeView)
	mo, _ = find(bad, dump.StreamModuleList)
	if bad.u32(mo+4+76) != 8 {
		t.Error("BadCodeView")
	}
}

func TestMalformationsMemory(t *testing.T) {
	b := New(X64)
	b.Memory(0x1000, []byte{1, 2})
	b.Memory64(0x8000, []byte{3})
	b.Region(Region{Base: 0x1000, Size: 0x1000, State: dump.MemCommit})
	b.Break(ZeroSizedRanges)
	b.Break(Memory64BaseRVAPastEOF)
	r := mustBytes(t, b)
	o, _ := find(r, dump.StreamMemoryList)
	if r.u32(o) != 2 || r.u64(o+4+16) != 0x1002 || r.u32(o+4+16+8) != 0 {
		t.Errorf("zero-sized MemoryList range % x", r.b[o:o+36])
	}
	o, _ = find(r, dump.StreamMemory64List)
	if r.u64(o) != 2 || r.u64(o+32) != 0x8001 || r.u64(o+40) != 0 {
		t.Errorf("zero-sized Memory64List range % x", r.b[o:o+48])
	}
	if r.u64(o+8) <= uint64(len(r.b)) {
		t.Error("Memory64BaseRVAPastEOF")
	}
	o, _ = find(r, dump.StreamMemoryInfoList)
	if r.u64(o+8) != 2 || r.u64(o+16+48) != 0x2000 || r.u64(o+16+48+24) != 0 {
		t.Errorf("zero-sized region % x", r.b[o:o+112])
	}

	// A dump without memory gets a zero-sized MemoryList range.
	b = New(X86)
	b.Break(ZeroSizedRanges)
	r = mustBytes(t, b)
	if o, _ := find(r, dump.StreamMemoryList); r.u32(o) != 1 || r.u32(o+12) != 0 {
		t.Error("ZeroSizedRanges on an empty dump")
	}
}

// Every malformation lays out without error and is deterministic.
func TestEveryMalformation(t *testing.T) {
	ms := Malformations()
	if len(ms) != int(malformationEnd)-1 || ms[0] != BadSignature {
		t.Fatalf("Malformations() = %v", ms)
	}
	for _, m := range ms {
		if strings.HasPrefix(m.String(), "Malformation(") {
			t.Errorf("%d has no name", m)
		}
		b1, b2 := richX64(), richX64()
		b1.Break(m)
		b2.Break(m)
		x, err := b1.Bytes()
		if err != nil {
			t.Fatalf("%v: %v", m, err)
		}
		y, _ := b2.Bytes()
		if !bytes.Equal(x, y) {
			t.Errorf("%v not deterministic", m)
		}
	}
}

func TestTruncatePatch(t *testing.T) {
	good := mustBytes(t, richX64()).b
	if got := Truncate(good, 31); len(got) != 31 || !bytes.Equal(got, good[:31]) {
		t.Error("Truncate")
	}
	if got := Truncate(good, len(good)+5); !bytes.Equal(got, good) {
		t.Error("Truncate past end")
	}
	if got := Truncate(good, -1); len(got) != 0 {
		t.Error("Truncate negative")
	}
	p := Patch(good, 8, []byte{0xff, 0xff})
	if p[8] != 0xff || p[9] != 0xff || good[8] == 0xff || len(p) != len(good) {
		t.Error("Patch")
	}
	if p := Patch(good, len(good)-1, []byte{1, 2, 3}); len(p) != len(good)+2 || p[len(p)-1] != 3 {
		t.Error("Patch growing")
	}
}
