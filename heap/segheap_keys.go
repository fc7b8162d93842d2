package heap

import (
	"encoding/binary"
	"fmt"
	"strings"
)

// segKeys are the process-wide RtlpHpHeapGlobals keys the segment heap
// encodes with: HeapKey (VS chunk headers, page segment signatures) and
// LfhKey (LFH subsegment BlockOffsets). Why says how each was derived or
// why it was not.
type segKeys struct {
	heapKey uint64
	heapOK  bool
	heapWhy string
	lfhKey  uint32
	lfhOK   bool
	lfhWhy  string
	globals uint64 // RtlpHpHeapGlobals when found in ntdll
}

// segmentKeys derives the keys once per process, without symbols:
//
//   - every page segment gives a HeapKey candidate, Signature ^ segment ^
//     its _HEAP_SEG_CONTEXT ^ 0xA2E64EADA2E64EAD (MemProcFS and DbgHelpUtils
//     include the context address, which nt-heap.md §4.3 leaves out);
//   - a candidate is confirmed when ntdll's captured image holds it at a
//     pointer-aligned address (that is RtlpHpHeapGlobals, whose LfhKey
//     follows at +8 / +4), or when two or more segments agree and outnumber
//     the rest, or when a whole VS subsegment's chunk chain decodes with it;
//   - LfhKey is read from RtlpHpHeapGlobals only: without it LFH blocks are
//     not walked.
func (p *Process) segmentKeys(r *reader) *segKeys {
	p.segKeyOnce.Do(func() { p.segKey = p.deriveSegKeys(r) })
	return p.segKey
}

func (p *Process) deriveSegKeys(r *reader) *segKeys {
	sl := segLayoutFor(p.Bits)
	hl := &segHeap64
	if p.Bits == 32 {
		hl = &segHeap32
	}
	k := &segKeys{}
	count := map[uint64]int{}
	var order []uint64
	type seg struct {
		ps        PageSegment
		ctx, cand uint64
	}
	var segs []seg
	for _, h := range p.Heaps {
		if h.Kind != SegmentHeap || h.Seg == nil || h.Seg.SegContexts == 0 {
			continue
		}
		for _, ps := range h.Seg.Segments {
			ctx := h.Seg.SegContexts + uint64(ps.Context*hl.ctxSize)
			sig, ok := r.ptr(ps.Address+uint64(sl.segSig), sl.ptr)
			if !ok {
				continue
			}
			c := sl.mask(sig ^ ps.Address ^ ctx ^ sl.sigConst)
			if count[c] == 0 {
				order = append(order, c)
			}
			count[c]++
			segs = append(segs, seg{ps, ctx, c})
		}
	}
	if len(segs) == 0 {
		k.heapWhy = "no page segment signature could be read"
		k.lfhWhy = "HeapKey not derived"
		return k
	}
	// RtlpHpHeapGlobals in ntdll: the candidate held by most segments wins.
	if hits := p.findGlobals(count, sl); len(hits) > 0 {
		best := uint64(0)
		for _, c := range order {
			if _, ok := hits[c]; ok && (k.globals == 0 || count[c] > count[best]) {
				best, k.globals = c, hits[c]
			}
		}
		k.heapKey, k.heapOK = best, true
		k.heapWhy = fmt.Sprintf("RtlpHpHeapGlobals at %#x in ntdll", k.globals)
	}
	if !k.heapOK {
		best := order[0]
		for _, c := range order {
			if count[c] > count[best] {
				best = c
			}
		}
		if count[best] >= 2 && 2*count[best] > len(segs) {
			k.heapKey, k.heapOK = best, true
			k.heapWhy = fmt.Sprintf("the signatures of %d of %d page segments agree", count[best], len(segs))
		}
	}
	if !k.heapOK {
		// A VS subsegment whose whole chunk chain decodes with a candidate.
		for _, s := range segs {
			if sub, ok := p.vsConfirms(r, sl, s.ps, s.ctx, s.cand); ok {
				k.heapKey, k.heapOK = s.cand, true
				k.heapWhy = fmt.Sprintf("the VS subsegment at %#x decodes with the signature of page segment %#x", sub, s.ps.Address)
				break
			}
		}
	}
	if !k.heapOK {
		k.heapWhy = fmt.Sprintf("HeapKey not derivable: %d page segment signature(s) give %d candidate(s), and no captured RtlpHpHeapGlobals in ntdll, no agreeing segments and no VS subsegment confirm one", len(segs), len(order))
		k.lfhWhy = "HeapKey not derived"
		return k
	}
	if k.globals == 0 {
		k.lfhWhy = "LfhKey not derivable: RtlpHpHeapGlobals is not in the captured ntdll image"
		return k
	}
	if v, ok := r.u32(k.globals + uint64(sl.globalsLfh)); ok {
		k.lfhKey, k.lfhOK = v, true
		k.lfhWhy = fmt.Sprintf("RtlpHpHeapGlobals+%d at %#x", sl.globalsLfh, k.globals)
	} else {
		k.lfhWhy = "LfhKey not derivable: RtlpHpHeapGlobals.LfhKey is not captured"
	}
	return k
}

// ntdllFor returns the ntdll image of the process's bitness: the SysWOW64
// one for the 32-bit heaps of a WOW64 process.
func (p *Process) ntdllFor() (lo, hi uint64, ok bool) {
	f := p.File
	wow := p.Bits == 32 && f.PointerSize() == 8
	for i := range f.Modules {
		m := &f.Modules[i]
		if !strings.EqualFold(m.BaseName(), "ntdll.dll") {
			continue
		}
		if strings.Contains(strings.ToLower(m.Name), "syswow64") != wow {
			continue
		}
		return m.Base, m.End(), true
	}
	return 0, 0, false
}

// findGlobals scans the captured ntdll image once for the candidates at
// pointer-aligned addresses; a random 64-bit (or 32-bit) key found there
// is RtlpHpHeapGlobals.HeapKey. It returns where each was first found.
func (p *Process) findGlobals(cands map[uint64]int, sl *segWalkLayout) map[uint64]uint64 {
	lo, hi, ok := p.ntdllFor()
	if !ok {
		return nil
	}
	hits := map[uint64]uint64{}
	step := uint64(sl.ptr)
	for base, data := range p.File.Chunks(lo, hi) {
		start := (step - base%step) % step
		for off := start; off+step <= uint64(len(data)); off += step {
			var v uint64
			if step == 4 {
				v = uint64(binary.LittleEndian.Uint32(data[off:]))
			} else {
				v = binary.LittleEndian.Uint64(data[off:])
			}
			if _, ok := cands[v]; ok && v != 0 {
				if _, seen := hits[v]; !seen {
					hits[v] = base + off
				}
			}
		}
	}
	return hits
}

// vsConfirms reports whether a VS subsegment of the page segment has a
// chunk chain that decodes and tiles with key; it returns that subsegment.
func (p *Process) vsConfirms(r *reader, sl *segWalkLayout, ps PageSegment, ctx, key uint64) (uint64, bool) {
	shift, first, ok := segContextGeometry(r, sl, ctx, ps)
	if !ok {
		return 0, false
	}
	for i := uint64(first); i < segDescriptors; {
		d := ps.Address + i*sl.descSize
		fl, ok1 := r.u8(d + uint64(sl.descFlags))
		units, ok2 := r.u8(d + uint64(sl.descUnits))
		if !ok1 || !ok2 || fl&sl.flagsMask&rangeFirst == 0 || units == 0 || i+uint64(units) > segDescriptors {
			return 0, false
		}
		if fl&sl.flagsMask == rangeVS {
			sub := ps.Address + i<<shift
			if vsChainOK(r, sl, sub, uint64(units)<<shift, key) {
				return sub, true
			}
		}
		i += uint64(units)
	}
	return 0, false
}

// segContextGeometry reads a context's UnitShift and FirstDescriptorIndex
// and checks them against the segment: 256 descriptors of 1 << UnitShift
// bytes cover it, and the descriptor array fits before the first one.
func segContextGeometry(r *reader, sl *segWalkLayout, ctx uint64, ps PageSegment) (uint, uint8, bool) {
	shift, ok1 := r.u8(ctx + uint64(sl.ctxUnitShift))
	first, ok2 := r.u8(ctx + uint64(sl.ctxFirstDesc))
	if !ok1 || !ok2 || shift < 12 || shift > 24 {
		return 0, 0, false
	}
	if ps.Size != segDescriptors<<shift || ps.Address&(ps.Size-1) != 0 {
		return 0, 0, false
	}
	if first == 0 || uint64(first)<<shift < segDescriptors*sl.descSize {
		return 0, 0, false
	}
	return uint(shift), first, true
}
