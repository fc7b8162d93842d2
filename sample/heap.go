package sample

import (
	"fmt"

	"wdb/dump"
	"wdb/dump/dumpbuild"
)

// The process heap is written by dumpbuild's NT heap writer into a scratch
// dump, then copied over: the writer lays out headers, free lists, LFH
// subsegments and regions byte for byte, and the sample fills in what the
// blocks hold (the objects, records, caches, loader data, process
// parameters) afterwards, at the addresses the writer chose.

// Kinds of heap allocations.
const (
	kObject = iota
	kSerializer
	kBuffer
	kRecord
	kNoise
	kFree
)

// lfhAlloc is one LFH chunk request.
type lfhAlloc struct {
	kind, view, index int
	req               uint64
}

// beAlloc is one back-end block request.
type beAlloc struct {
	name string
	size uint64
}

// heapPlan is the process heap: what was requested and where it landed.
type heapPlan struct {
	handles []uint64 // PEB.ProcessHeaps
	regions []dumpbuild.Region

	buckets   [][]lfhAlloc // per LFH bucket, chunks in allocation order
	subOf     []int        // per bucket: index of its first subsegment in the spec
	perSub    int
	chunkUser map[[2]int]uint64 // (subsegment, chunk) -> user address
	backend   map[string]uint64 // named back-end block -> user address
	beSize    map[string]uint64

	objects, serializers, buffers []uint64 // per view; index n is the failing object's
	records                       [][]uint64
	noise                         []uint64
	noiseReq                      []uint64
	sizeBlocks                    int
}

// recordSize is the size of a message record (a struct of the sample's
// own, beside the fixture's classes).
func (g *gen) recordSize() uint64 {
	if g.x64 {
		return 0x30
	}
	return 0x1c
}

// buildHeap plans the process heap and a second, small heap, runs the heap
// writer and takes its memory and regions.
func (g *gen) buildHeap() error {
	h := &heapPlan{chunkUser: map[[2]int]uint64{}, backend: map[string]uint64{}, beSize: map[string]uint64{}, perSub: 0x100}
	g.heap = h
	n := len(g.viewPlan)
	x64 := g.x64
	// Buckets: x64 has 0x30-byte chunks (serializers, buffers) and
	// 0x40-byte ones (objects, records); x86 one of 0x28 bytes for all.
	var strides []uint64
	bucketOf := map[int]int{}
	if x64 {
		strides = []uint64{0x30, 0x40}
		bucketOf = map[int]int{kSerializer: 0, kBuffer: 0, kObject: 1, kRecord: 1}
	} else {
		strides = []uint64{0x28}
		bucketOf = map[int]int{kSerializer: 0, kBuffer: 0, kObject: 0, kRecord: 0}
	}
	h.buckets = make([][]lfhAlloc, len(strides))
	sizes := map[int]uint64{kObject: g.app.objSize, kSerializer: g.app.serSize, kBuffer: g.app.bufSize, kRecord: g.recordSize()}
	add := func(kind, view, index int) {
		b := bucketOf[kind]
		h.buckets[b] = append(h.buckets[b], lfhAlloc{kind: kind, view: view, index: index, req: sizes[kind]})
	}
	gran := uint64(16)
	if !x64 {
		gran = 8
	}
	noise := func(b int) {
		// A small allocation of another size (a string, a timer, ...).
		st := strides[b]
		req := st - gran - uint64(g.rng.IntN(int(min(0x3e, st-gran)-8)))
		for req == g.app.objSize || req == g.app.serSize || req == g.recordSize() {
			req--
		}
		h.buckets[b] = append(h.buckets[b], lfhAlloc{kind: kNoise, view: len(h.noiseReq), req: req})
		h.noiseReq = append(h.noiseReq, req)
	}
	free := func(b int) { h.buckets[b] = append(h.buckets[b], lfhAlloc{kind: kFree}) }
	for i := 0; i <= n; i++ {
		add(kObject, i, 0)
		add(kSerializer, i, 0)
		if i == n {
			break // the failing object: Open failed, no buffer, no records
		}
		add(kBuffer, i, 0)
		for j := 0; j < g.viewPlan[i].records; j++ {
			add(kRecord, i, j)
			if g.rng.IntN(11) == 0 {
				free(bucketOf[kRecord]) // a record sent and freed
			}
		}
		if g.rng.IntN(3) == 0 {
			noise(g.rng.IntN(len(strides)))
		}
	}
	var lfh []dumpbuild.LFHSubsegment
	for b, list := range h.buckets {
		h.subOf = append(h.subOf, len(lfh))
		for s := 0; s < len(list); s += h.perSub {
			req := make([]uint64, h.perSub)
			for k := s; k < min(s+h.perSub, len(list)); k++ {
				if list[k].kind != kFree {
					req[k-s] = list[k].req
				}
			}
			lfh = append(lfh, dumpbuild.LFHSubsegment{BlockUnits: uint16(strides[b] / gran), Requested: req})
		}
	}
	// Back-end blocks: process parameters, environment, loader entries,
	// the two view caches, and some unrelated blocks and free space.
	ldrEntry := uint64(0x138)
	params := uint64(0x440)
	if !x64 {
		ldrEntry, params = 0xa8, 0x2a0
	}
	cacheA := uint64(n+32) * 2 * uint64(g.ptr)
	capB := 1
	for capB < 2*n {
		capB <<= 1
	}
	cacheB := uint64(capB) * 2 * uint64(g.ptr)
	be := []beAlloc{
		{"params", params + 0x300}, {"environment", 0x5c0},
		{"ldr:app", ldrEntry + 0x70}, {"ldr:ntdll", ldrEntry + 0x70}, {"ldr:KERNEL32", ldrEntry + 0x70}, {"ldr:KERNELBASE", ldrEntry + 0x70},
		{"noise:0", 0x230}, {"noise:1", 0x1000}, {"free:0", 0x400},
		{"cacheA", cacheA}, {"noise:2", 0x88}, {"free:1", 0x1a0},
		{"cacheB", cacheB}, {"noise:3", 0x618}, {"noise:4", 0x2000}, {"free:2", 0x900}, {"noise:5", 0x58},
	}
	var blocks []dumpbuild.Alloc
	var busy []string
	for _, a := range be {
		h.beSize[a.name] = a.size
		if a.name[:4] == "free" {
			blocks = append(blocks, dumpbuild.Alloc{Size: a.size, Free: true})
			continue
		}
		blocks = append(blocks, dumpbuild.Alloc{Size: a.size})
		busy = append(busy, a.name)
	}
	// Addresses: the process heap at a typical Windows 10 place; the
	// writer's own TEB and PEB go just below it and are not kept.
	heap0, dummyTEB := uint64(0x0000020b8c5f0000), uint64(0x0000020b8c3f0000)
	if !x64 {
		heap0, dummyTEB = 0x00520000, 0x004e0000
	}
	scratch := dumpbuild.New(g.arch)
	truth, err := scratch.Heaps(dumpbuild.HeapProcess{
		Build: build, Seed: 0x3a4d, TEB: dummyTEB, ThreadID: 1,
		Heaps: []dumpbuild.NTHeap{
			{Address: heap0, Blocks: blocks, LFH: lfh},
			{Flags: 0x1002, Blocks: []dumpbuild.Alloc{{Size: 0x100}, {Size: 0x48}, {Size: 0x300, Free: true}, {Size: 0x1e0}}},
		},
	})
	if err != nil {
		return fmt.Errorf("sample: heap: %w", err)
	}
	raw, err := scratch.Bytes()
	if err != nil {
		return fmt.Errorf("sample: heap: %w", err)
	}
	f, err := dump.OpenBytes(raw, "heap")
	if err != nil {
		return fmt.Errorf("sample: heap: %w", err)
	}
	skip := func(a uint64) bool {
		return a >= truth.TEB && a < truth.TEB+0x3000 || a >= truth.PEB && a < truth.PEB+0x2000
	}
	for _, r := range f.MemoryRanges() {
		if skip(r.Start) {
			continue
		}
		data := make([]byte, r.Size)
		if _, err := f.ReadMemory(r.Start, data); err != nil {
			return fmt.Errorf("sample: heap memory: %w", err)
		}
		g.addData(r.Start, data)
	}
	for _, m := range f.MemoryInfo {
		if skip(m.BaseAddress) {
			continue
		}
		h.regions = append(h.regions, dumpbuild.Region{Base: m.BaseAddress, AllocBase: m.AllocationBase, AllocProtect: m.AllocationProtect,
			Size: m.RegionSize, State: m.State, Protect: m.Protect, Type: m.Type})
	}
	g.regions = append(g.regions, h.regions...)
	for _, ph := range truth.Heaps {
		h.handles = append(h.handles, ph.Address)
	}
	// Where the blocks landed.
	ph := truth.Heaps[0]
	subIndex := map[uint64]int{}
	for i, s := range ph.Subsegments {
		subIndex[s] = i
	}
	k := 0
	for _, blk := range ph.Blocks {
		switch {
		case blk.Kind == dumpbuild.LFHBlock:
			h.chunkUser[[2]int{subIndex[blk.Segment], blk.Index}] = blk.User
		case blk.Kind == dumpbuild.BackEndBlock && blk.RequestedFromCaller:
			h.backend[busy[k]] = blk.User
			k++
		}
		if blk.Busy && !blk.Internal && blk.UserSize == g.app.objSize {
			h.sizeBlocks++
		}
	}
	if k != len(busy) {
		return fmt.Errorf("sample: heap writer placed %d of %d back-end blocks", k, len(busy))
	}
	for _, hp := range truth.Heaps[1:] {
		for _, blk := range hp.Blocks {
			if blk.Busy && !blk.Internal && blk.UserSize == g.app.objSize {
				h.sizeBlocks++
			}
		}
	}
	// Objects per view.
	h.objects = make([]uint64, n+1)
	h.serializers = make([]uint64, n+1)
	h.buffers = make([]uint64, n)
	h.records = make([][]uint64, n)
	h.noise = make([]uint64, len(h.noiseReq))
	for b, list := range h.buckets {
		for k, a := range list {
			user := h.chunkUser[[2]int{h.subOf[b] + k/h.perSub, k % h.perSub}]
			if user == 0 && a.kind != kFree {
				return fmt.Errorf("sample: LFH chunk %d of bucket %d not placed", k, b)
			}
			switch a.kind {
			case kObject:
				h.objects[a.view] = user
			case kSerializer:
				h.serializers[a.view] = user
			case kBuffer:
				h.buffers[a.view] = user
			case kRecord:
				h.records[a.view] = append(h.records[a.view], user)
			case kNoise:
				h.noise[a.view] = user
			}
		}
	}
	return nil
}
