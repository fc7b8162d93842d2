package sample

import (
	"fmt"
	"sort"
)

// item is a region the layout places: a view, another mapped region or a
// private allocation.
type item struct {
	size      uint64
	committed uint64 // bytes committed from the start; the rest is reserved
	typ       uint32
	protect   uint32
	view      int // index into viewPlan for views, else -1
	base      uint64
}

// span is [start, end).
type span struct{ start, end uint64 }

// layout places the images, the process structures and every region, and
// records the views' bases.
func (g *gen) layout() error {
	var fixed []span
	addImage := func(base uint64, secs []section, size uint32) {
		for _, s := range secs {
			g.region(base+uint64(s.rva), uint64(s.size), base, pageExecuteWriteCopy, memCommit, s.protect, memImage)
		}
		fixed = append(fixed, span{base, base + uint64(size)})
	}
	addImage(g.app.base, g.appSec, g.app.size)
	g.addSparse(g.app.base, g.appMem)
	for _, name := range []string{"ntdll", "KERNEL32", "KERNELBASE"} {
		im := g.images[name]
		addImage(im.spec.base, im.spec.sections, im.spec.size)
		g.addSparse(im.spec.base, im.mem)
	}
	for _, r := range g.heap.regions {
		fixed = append(fixed, span{r.Base, r.Base + r.Size})
	}
	// KUSER_SHARED_DATA, the PEB and the TEBs: one page (x86) or two (x64
	// TEBs) each.
	g.kuser = 0x7ffe0000
	g.region(g.kuser, page, g.kuser, pageReadOnly, memCommit, pageReadOnly, memPrivate)
	g.addData(g.kuser, make([]byte, page))
	fixed = append(fixed, span{g.kuser, g.kuser + page})
	g.region(g.peb, page, g.peb, pageReadWrite, memCommit, pageReadWrite, memPrivate)
	g.addData(g.peb, make([]byte, page))
	fixed = append(fixed, span{g.peb, g.peb + page})
	tebSize := uint64(2 * page)
	if !g.x64 {
		tebSize = page
	}
	for _, t := range g.threads {
		g.region(t.teb, tebSize, t.teb, pageReadWrite, memCommit, pageReadWrite, memPrivate)
		g.addData(t.teb, make([]byte, tebSize))
		fixed = append(fixed, span{t.teb, t.teb + tebSize})
		// The stack: reserved, guard pages, committed top.
		guard := uint64(3 * page)
		if !g.x64 {
			guard = page
		}
		low := t.limit - guard
		g.region(t.alloc, low-t.alloc, t.alloc, pageReadWrite, memReserve, 0, memPrivate)
		g.region(low, guard, t.alloc, pageReadWrite, memCommit, pageReadWrite|pageGuard, memPrivate)
		g.region(t.limit, t.base-t.limit, t.alloc, pageReadWrite, memCommit, pageReadWrite, memPrivate)
		fixed = append(fixed, span{t.alloc, t.base})
	}
	var busy, private uint64
	for _, f := range fixed {
		busy += f.end - f.start
	}
	for _, r := range g.regions {
		if r.Type == memPrivate {
			private += r.Size
		}
	}

	// The items: views, other mapped regions up to the mapped target,
	// private allocations up to the private target.
	var items []*item
	var views []*item
	var viewBytes uint64
	for i, v := range g.viewPlan {
		it := &item{size: v.size, committed: v.size, typ: memMapped, protect: pageReadWrite, view: i}
		views = append(views, it)
		viewBytes += v.size
	}
	mappedTarget := uint64(float64(seedMapped)*g.scale) &^ (page - 1)
	privateTarget := uint64(float64(seedPrivate)*g.scale) &^ (page - 1)
	var smalls, bigs []*item
	if mappedTarget > viewBytes {
		other := mappedTarget - viewBytes
		// Read-only file views (locale.nls, SortDefault.nls, ...) and
		// pagefile sections, then big shared sections.
		for _, s := range []uint64{0xc9000, 0x331000, 0x1000, 0x1000, 0x3000, 0x10000} {
			if s > other {
				break
			}
			smalls = append(smalls, &item{size: s, committed: s, typ: memMapped, protect: pageReadOnly, view: -1})
			other -= s
		}
		for other > 0 {
			s := min(other, 32*mb)
			bigs = append(bigs, &item{size: s, committed: min(s, 4*mb), typ: memMapped, protect: pageReadWrite, view: -1})
			other -= s
		}
	}
	var privs []*item
	if privateTarget > private {
		other := privateTarget - private
		for other > 0 {
			s := min(other, 16*mb)
			privs = append(privs, &item{size: s, committed: min(s, 2*mb), typ: memPrivate, protect: pageReadWrite, view: -1})
			other -= s
		}
	}
	// Big regions first (they need room), alternating; then the views with
	// the small mapped regions spread among them.
	for i := 0; i < max(len(bigs), len(privs)); i++ {
		if i < len(privs) {
			items = append(items, privs[i])
		}
		if i < len(bigs) {
			items = append(items, bigs[i])
		}
	}
	every := len(views)/(len(smalls)+1) + 1
	for i, v := range views {
		items = append(items, v)
		if k := i / every; i%every == every-1 && k < len(smalls) {
			items = append(items, smalls[k])
		}
	}
	for k := (len(views)-1)/every + 1; k < len(smalls); k++ {
		items = append(items, smalls[k])
	}
	for _, it := range items {
		busy += it.size
	}

	// Place them.
	var err error
	if g.x64 {
		err = g.placeX64(items, fixed)
	} else {
		err = g.placeX86(items, fixed, busy)
	}
	if err != nil {
		return err
	}
	for _, it := range items {
		if it.committed > 0 {
			g.region(it.base, it.committed, it.base, it.protect, memCommit, it.protect, it.typ)
		}
		if it.committed < it.size {
			g.region(it.base+it.committed, it.size-it.committed, it.base, it.protect, memReserve, 0, it.typ)
		}
		switch {
		case it.view >= 0:
			// The first page holds the messages (written later), the
			// rest is zero.
			g.addData(it.base, make([]byte, page))
			g.addZeros(it.base+page, it.size-page)
		case it.committed > 0:
			g.addZeros(it.base, it.committed)
		}
	}
	g.truth.Views = make([]View, len(views))
	for i, v := range views {
		g.truth.Views[i] = View{Base: v.base, Size: v.size, ID: g.viewPlan[i].id}
	}
	return nil
}

// placeX64 puts the items one after another from above the heaps, with the
// small gaps a long-running process leaves.
func (g *gen) placeX64(items []*item, fixed []span) error {
	at := uint64(0x0000020b8e000000)
	for _, it := range items {
		at = alignUp(at, allocGranularity)
		switch r := g.rng.IntN(10); {
		case r < 2:
			at += allocGranularity
		case r < 3:
			at += uint64(2+g.rng.IntN(3)) * allocGranularity
		}
		for _, f := range fixed {
			if at < f.end && f.start < at+it.size {
				return fmt.Errorf("sample: x64 layout runs into a fixed region at %#x", f.start)
			}
		}
		it.base = at
		at += it.size
	}
	return nil
}

// placeX86 fills the 2 GB address space so that the free space left over
// is as the seed's: busy is the total of fixed regions and items, the rest
// is cut into holes no larger than 1.5 MB, exactly one of them 1.5 MB.
func (g *gen) placeX86(items []*item, fixed []span, busy uint64) error {
	const lo, hi = 0x10000, 0x7fff0000
	if busy > hi-lo {
		return fmt.Errorf("sample: x86 layout needs %#x bytes, more than the address space", busy)
	}
	sort.Slice(fixed, func(i, j int) bool { return fixed[i].start < fixed[j].start })
	var gaps []span
	at := uint64(lo)
	for _, f := range fixed {
		if f.start > at {
			gaps = append(gaps, span{at, f.start})
		}
		at = max(at, f.end)
	}
	if at < hi {
		gaps = append(gaps, span{at, hi})
	}
	freeLeft := int64(hi - lo - busy)
	pending := append([]*item(nil), items...)
	bigHole := len(items) / 2
	placed := 0
	gi := 0
	cur := gaps[0].start
	for len(pending) > 0 {
		if gi >= len(gaps) {
			return fmt.Errorf("sample: x86 layout: %d regions do not fit", len(pending))
		}
		gap := gaps[gi]
		var hole uint64
		if placed == bigHole {
			hole = largestFreeX86
		} else if freeLeft > 0 {
			avg := float64(freeLeft) / float64(len(pending)+1)
			h := uint64(avg * (0.25 + 1.5*g.rng.Float64()))
			hole = min(h, largestFreeX86-allocGranularity) &^ (allocGranularity - 1)
		}
		base := alignUp(cur, allocGranularity) + hole
		pick := -1
		for k, it := range pending {
			if base+it.size <= gap.end {
				pick = k
				break
			}
			if k > 64 {
				break
			}
		}
		if pick < 0 && hole > 0 && placed != bigHole {
			base = alignUp(cur, allocGranularity)
			for k, it := range pending {
				if base+it.size <= gap.end {
					pick = k
					break
				}
				if k > 64 {
					break
				}
			}
		}
		if pick < 0 {
			freeLeft -= int64(gap.end - cur)
			gi++
			if gi < len(gaps) {
				cur = gaps[gi].start
			}
			continue
		}
		it := pending[pick]
		pending = append(pending[:pick], pending[pick+1:]...)
		it.base = base
		freeLeft -= int64(base - cur)
		cur = base + it.size
		placed++
	}
	return nil
}

func alignUp(v, a uint64) uint64 { return (v + a - 1) &^ (a - 1) }
