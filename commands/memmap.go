package commands

import (
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"wdb/dump"
)

// .memmap draws the address space, for when a picture says more than the
// !address -summary table: ".memmap" prints a terminal bar chart of the
// busy memory by type and usage and a strip of the busy memory in address
// order; ".memmap FILE.svg" writes an SVG map of every region, coloured by
// type (image, mapped, private, free), with widths on a log scale of the
// region size so that thousands of 256 KB views and a 128 TB free gap fit
// on one page. Colours in the terminal only when a person is watching;
// otherwise each type has its own block character.

func init() {
	Register(&Command{
		Name:    ".memmap",
		Usage:   ".memmap [FILE.svg]",
		Summary: "draw the address space: a bar chart by memory type, or an SVG map of every region",
		Help: `.memmap            a bar chart of the busy memory by type (MEM_IMAGE, MEM_MAPPED,
                   MEM_PRIVATE) and by usage, and a strip of the busy memory in
                   address order, each cell the same number of bytes
.memmap FILE.svg   write an SVG map of the whole address space: one box per
                   allocation (a module, a mapped view, a heap segment ...) or
                   free gap, coloured by type; widths grow with the logarithm of
                   the size, so small regions stay visible beside huge free
                   gaps. Hover a box for its address, size, state and usage.
Colours are used at an interactive terminal; elsewhere the types are told
apart by block characters (█ image, ▓ mapped, ▒ private).`,
		Run: runMemmap,
	})
}

// The region classes of the map, in legend order.
var mapClasses = []struct {
	class, name, glyph, ansi, fill string
}{
	{"image", "MEM_IMAGE", "█", "\x1b[34m", "#4e79a7"},
	{"mapped", "MEM_MAPPED", "▓", "\x1b[33m", "#f28e2b"},
	{"private", "MEM_PRIVATE", "▒", "\x1b[32m", "#59a14f"},
	{"free", "Free", "░", "\x1b[90m", "#d9d9d9"},
}

const ansiReset = "\x1b[0m"

// regionClass is the map class of a region: image, mapped, private or free.
func regionClass(r *dump.Region) string {
	switch {
	case r.State == dump.MemFree:
		return "free"
	case r.Type == dump.MemImage:
		return "image"
	case r.Type == dump.MemMapped:
		return "mapped"
	}
	return "private"
}

func classIndex(class string) int {
	for i, c := range mapClasses {
		if c.class == class {
			return i
		}
	}
	return len(mapClasses) - 1
}

// MapShare is one bar of the chart: a type or usage and its share of the
// busy memory.
type MapShare struct {
	Name    string  `json:"name"`
	Class   string  `json:"class,omitempty"` // image, mapped, private, free (types only)
	Count   int     `json:"count"`
	Size    uint64  `json:"size"`
	PctBusy float64 `json:"pct_busy"`
}

// MapCell is one cell of the address-ordered strip: Bytes of busy memory
// from Address, most of them of Class.
type MapCell struct {
	Address uint64 `json:"address"`
	Class   string `json:"class"`
}

// MemoryMap is the result of .memmap.
type MemoryMap struct {
	File        string     `json:"file,omitempty"` // the SVG written
	Regions     int        `json:"regions"`
	Busy        uint64     `json:"busy_bytes"`
	Free        uint64     `json:"free_bytes"`
	FreeCount   int        `json:"free_regions"`
	LargestFree uint64     `json:"largest_free"`
	Types       []MapShare `json:"types"`
	Usage       []MapShare `json:"usage"`
	CellBytes   uint64     `json:"cell_bytes"`
	Cells       []MapCell  `json:"cells"`

	ptr   int
	color bool
}

// mapBarWidth is the width of a 100% bar; mapStripWidth the cells per
// strip row.
const (
	mapBarWidth   = 50
	mapStripWidth = 64
	mapStripCells = 6 * mapStripWidth
)

func runMemmap(s *Session, inv *Invocation) (Result, error) {
	if s.Target == nil {
		return nil, errNoTarget
	}
	regions := addressRegions(s)
	m := buildMemoryMap(regions, s.PointerSize())
	m.color = s.Interactive && !s.JSON && s.log == nil
	file := strings.Trim(strings.TrimSpace(inv.Args), `"`)
	if file == "" {
		return m, nil
	}
	if !strings.EqualFold(filepath.Ext(file), ".svg") {
		return nil, fmt.Errorf(".memmap writes an SVG picture: give a file name ending in .svg (not '%s')", file)
	}
	title := "wdb address space map"
	if s.Target.Path != "" {
		title += ": " + filepath.Base(s.Target.Path)
	}
	if err := writeFileAtomic(file, func(w io.Writer) error { return writeMemmapSVG(w, regions, m, title) }); err != nil {
		return nil, err
	}
	m.File = file
	return m, nil
}

// buildMemoryMap computes the shares and the strip.
func buildMemoryMap(regions []dump.Region, ptr int) *MemoryMap {
	m := &MemoryMap{ptr: ptr, Regions: len(regions)}
	types := map[string]*MapShare{}
	usage := map[string]*MapShare{}
	for i := range regions {
		r := &regions[i]
		if r.State == dump.MemFree {
			m.Free += r.Size
			m.FreeCount++
			m.LargestFree = max(m.LargestFree, r.Size)
			continue
		}
		m.Busy += r.Size
		c := regionClass(r)
		t := types[c]
		if t == nil {
			t = &MapShare{Name: mapClasses[classIndex(c)].name, Class: c}
			types[c] = t
		}
		t.Count++
		t.Size += r.Size
		u := usage[r.UsageName()]
		if u == nil {
			u = &MapShare{Name: r.UsageName()}
			usage[r.UsageName()] = u
		}
		u.Count++
		u.Size += r.Size
	}
	sorted := func(in map[string]*MapShare) []MapShare {
		var out []MapShare
		for _, v := range in {
			if m.Busy > 0 {
				v.PctBusy = 100 * float64(v.Size) / float64(m.Busy)
			}
			out = append(out, *v)
		}
		sort.Slice(out, func(i, j int) bool {
			if out[i].Size != out[j].Size {
				return out[i].Size > out[j].Size
			}
			return out[i].Name < out[j].Name
		})
		return out
	}
	m.Types, m.Usage = sorted(types), sorted(usage)
	m.Cells, m.CellBytes = busyStrip(regions, m.Busy)
	return m
}

// busyStrip lays the busy memory out in address order in at most
// mapStripCells cells of equal size (a multiple of 4 KB); each cell takes
// the class that holds most of its bytes.
func busyStrip(regions []dump.Region, busy uint64) ([]MapCell, uint64) {
	if busy == 0 {
		return nil, 0
	}
	cell := (busy + mapStripCells - 1) / mapStripCells
	cell = (cell + 0xfff) &^ 0xfff
	var cells []MapCell
	var acc [4]uint64
	var filled uint64
	start, started := uint64(0), false
	flush := func() {
		best := 0
		for i := range acc {
			if acc[i] > acc[best] {
				best = i
			}
		}
		cells = append(cells, MapCell{Address: start, Class: mapClasses[best].class})
		acc, filled, started = [4]uint64{}, 0, false
	}
	for i := range regions {
		r := &regions[i]
		if r.State == dump.MemFree {
			continue
		}
		ci := classIndex(regionClass(r))
		at, left := r.Base, r.Size
		for left > 0 {
			if !started {
				start, started = at, true
			}
			n := min(left, cell-filled)
			acc[ci] += n
			filled += n
			at += n
			left -= n
			if filled == cell {
				flush()
			}
		}
	}
	if started {
		flush()
	}
	return cells, cell
}

// WriteText prints the chart, or where the SVG went.
func (m *MemoryMap) WriteText(w io.Writer) {
	if m.File != "" {
		fmt.Fprintf(w, "Wrote %s: %d regions, busy %s, free %s (open it in a browser; hover a box for its details)\n",
			m.File, m.Regions, strings.TrimSpace(HumanSize(m.Busy)), strings.TrimSpace(HumanSize(m.Free)))
		return
	}
	paint := func(class, text string) string {
		if !m.color || text == "" {
			return text
		}
		return mapClasses[classIndex(class)].ansi + text + ansiReset
	}
	fmt.Fprintf(w, "Busy memory by type: %s in %d regions (free: %s in %d regions, the largest %s)\n",
		strings.TrimSpace(HumanSize(m.Busy)), m.Regions-m.FreeCount, strings.TrimSpace(HumanSize(m.Free)), m.FreeCount, strings.TrimSpace(HumanSize(m.LargestFree)))
	bar := func(pct float64) int {
		n := int(math.Round(pct * mapBarWidth / 100))
		if n == 0 && pct > 0 {
			n = 1
		}
		return n
	}
	for _, t := range m.Types {
		c := mapClasses[classIndex(t.Class)]
		glyph := c.glyph
		if m.color {
			glyph = "█"
		}
		fmt.Fprintf(w, "  %-12s %6.2f%% %s %5d regions  %s\n", t.Name, t.PctBusy, HumanSize(t.Size), t.Count,
			paint(t.Class, strings.Repeat(glyph, bar(t.PctBusy))))
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Busy memory by usage:")
	for _, u := range m.Usage {
		fmt.Fprintf(w, "  %-12s %6.2f%% %s %5d regions  %s\n", u.Name, u.PctBusy, HumanSize(u.Size), u.Count, strings.Repeat("■", bar(u.PctBusy)))
	}
	if len(m.Cells) == 0 {
		return
	}
	fmt.Fprintln(w)
	var legend []string
	for _, c := range mapClasses[:3] {
		g := c.glyph
		if m.color {
			g = "█"
		}
		legend = append(legend, paint(c.class, g)+" "+c.name)
	}
	fmt.Fprintf(w, "Busy memory in address order, one cell = %s (%s):\n", roundSize(m.CellBytes), strings.Join(legend, "  "))
	for i := 0; i < len(m.Cells); i += mapStripWidth {
		row := m.Cells[i:min(i+mapStripWidth, len(m.Cells))]
		var b strings.Builder
		for j := 0; j < len(row); {
			k := j
			for k < len(row) && row[k].Class == row[j].Class {
				k++
			}
			g := mapClasses[classIndex(row[j].Class)].glyph
			if m.color {
				g = "█"
			}
			b.WriteString(paint(row[j].Class, strings.Repeat(g, k-j)))
			j = k
		}
		fmt.Fprintf(w, "  %s  %s\n", FormatAddr(m.ptr, row[0].Address), b.String())
	}
}

// svgBlock is one box of the SVG map: consecutive regions of one
// allocation and class, or one free gap.
type svgBlock struct {
	base, size uint64
	class      string
	reserved   bool // no byte committed
	regions    int
	usage      string
	detail     string
}

// mapBlocks merges the regions of each allocation that share a class.
func mapBlocks(regions []dump.Region) []svgBlock {
	var out []svgBlock
	for i := range regions {
		r := &regions[i]
		c := regionClass(r)
		if n := len(out); n > 0 && c != "free" {
			last := &out[n-1]
			prev := &regions[i-1]
			if last.class == c && prev.State != dump.MemFree && prev.AllocationBase == r.AllocationBase && last.base+last.size == r.Base {
				last.size += r.Size
				last.regions++
				last.reserved = last.reserved && r.State == dump.MemReserve
				continue
			}
		}
		detail := r.Detail
		if r.Module != nil {
			detail = r.Module.BaseName()
		}
		out = append(out, svgBlock{base: r.Base, size: r.Size, class: c, reserved: r.State == dump.MemReserve, regions: 1, usage: r.UsageName(), detail: detail})
	}
	return out
}

// SVG layout, in pixels.
const (
	svgMargin    = 16
	svgLabel     = 150 // the address column
	svgRowWidth  = 960
	svgRowHeight = 18
	svgRowGap    = 4
)

// svgWidth is a block's width: it grows with the logarithm of the size
// (4 KB: 2 px, 256 KB: 20 px, 1 GB: 50 px, 128 TB: 107 px), so that small
// regions stay visible beside huge ones.
func svgWidth(size uint64) float64 {
	pages := float64(max(size, 0x1000)) / 0x1000
	return 2 + 3*math.Log2(pages)
}

func writeMemmapSVG(w io.Writer, regions []dump.Region, m *MemoryMap, title string) error {
	blocks := mapBlocks(regions)
	// Lay the blocks out in rows.
	type placed struct {
		x, y, w float64
		b       *svgBlock
	}
	var boxes []placed
	var rowStarts []int
	x, row := 0.0, 0
	for i := range blocks {
		bw := svgWidth(blocks[i].size)
		if x > 0 && x+bw > svgRowWidth {
			x, row = 0, row+1
		}
		if x == 0 {
			rowStarts = append(rowStarts, len(boxes))
		}
		boxes = append(boxes, placed{x: x, y: float64(row), w: bw, b: &blocks[i]})
		x += bw + 1
	}
	rows := len(rowStarts)
	const headerH = 160
	width := 2*svgMargin + svgLabel + svgRowWidth
	height := headerH + rows*(svgRowHeight+svgRowGap) + svgMargin

	var b strings.Builder
	esc := func(s string) string {
		var e strings.Builder
		xml.EscapeText(&e, []byte(s))
		return e.String()
	}
	fmt.Fprintf(&b, `<?xml version="1.0" encoding="UTF-8"?>`+"\n")
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="monospace" font-size="12">`+"\n", width, height, width, height)
	fmt.Fprintf(&b, "<title>%s</title>\n", esc(title))
	b.WriteString("<style>\n")
	for _, c := range mapClasses {
		fmt.Fprintf(&b, "  .%s { fill: %s; }\n", c.class, c.fill)
	}
	b.WriteString("  .reserve { fill-opacity: 0.45; }\n  text { fill: #222; }\n</style>\n")
	fmt.Fprintf(&b, `<rect x="0" y="0" width="%d" height="%d" fill="white"/>`+"\n", width, height)
	fmt.Fprintf(&b, `<text x="%d" y="%d" font-size="15" font-weight="bold">%s</text>`+"\n", svgMargin, svgMargin+10, esc(title))
	fmt.Fprintf(&b, `<text x="%d" y="%d">%s</text>`+"\n", svgMargin, svgMargin+28,
		esc(fmt.Sprintf("%d regions: busy %s, free %s (the largest free region: %s).",
			m.Regions, strings.TrimSpace(HumanSize(m.Busy)), strings.TrimSpace(HumanSize(m.Free)), strings.TrimSpace(HumanSize(m.LargestFree)))))
	fmt.Fprintf(&b, `<text x="%d" y="%d">%s</text>`+"\n", svgMargin, svgMargin+44,
		esc("One box per allocation or free gap, in address order; widths grow with log(size); pale boxes are reserved, not committed."))
	// Legend with totals, two by two.
	totals := map[string]MapShare{}
	for _, t := range m.Types {
		totals[t.Class] = t
	}
	totals["free"] = MapShare{Name: "Free", Class: "free", Count: m.FreeCount, Size: m.Free}
	for i, c := range mapClasses {
		t := totals[c.class]
		label := fmt.Sprintf("%s: %d regions, %s", c.name, t.Count, strings.TrimSpace(HumanSize(t.Size)))
		if c.class != "free" {
			label += fmt.Sprintf(" (%.1f%% of busy)", t.PctBusy)
		}
		lx, ly := svgMargin+(i%2)*(svgRowWidth/2+svgLabel/2), svgMargin+56+(i/2)*20
		fmt.Fprintf(&b, `<rect class="%s legend" x="%d" y="%d" width="14" height="14"/>`+"\n", c.class, lx, ly)
		fmt.Fprintf(&b, `<text x="%d" y="%d">%s</text>`+"\n", lx+18, ly+11, esc(label))
	}
	// The busy memory's shares, linear.
	fmt.Fprintf(&b, `<text x="%d" y="%d">busy memory by type</text>`+"\n", svgMargin, svgMargin+112)
	sx := float64(svgMargin + svgLabel)
	for _, t := range m.Types {
		sw := float64(svgRowWidth) * t.PctBusy / 100
		fmt.Fprintf(&b, `<rect class="%s share" x="%.1f" y="%d" width="%.1f" height="16"><title>%s</title></rect>`+"\n",
			t.Class, sx, svgMargin+100, sw, esc(fmt.Sprintf("%s: %s, %.1f%% of busy memory, %d regions", t.Name, strings.TrimSpace(HumanSize(t.Size)), t.PctBusy, t.Count)))
		sx += sw
	}
	// The map.
	for r, first := range rowStarts {
		y := headerH + r*(svgRowHeight+svgRowGap)
		fmt.Fprintf(&b, `<text x="%d" y="%d">%s</text>`+"\n", svgMargin, y+13, FormatAddr(m.ptr, boxes[first].b.base))
	}
	for _, p := range boxes {
		bl := p.b
		class := bl.class
		if bl.reserved {
			class += " reserve"
		}
		what := typeOrFree(bl.class)
		if bl.usage != "" && bl.class != "free" {
			what += " " + bl.usage
		}
		if bl.detail != "" {
			what += " " + bl.detail
		}
		if bl.regions > 1 {
			what += fmt.Sprintf(" (%d regions)", bl.regions)
		} else if bl.reserved {
			what += " reserved"
		}
		fmt.Fprintf(&b, `<rect class="%s" x="%.1f" y="%d" width="%.1f" height="%d"><title>%s</title></rect>`+"\n",
			class, float64(svgMargin+svgLabel)+p.x, headerH+int(p.y)*(svgRowHeight+svgRowGap), p.w, svgRowHeight,
			esc(fmt.Sprintf("%s-%s %s %s", FormatAddr(m.ptr, bl.base), FormatAddr(m.ptr, bl.base+bl.size), strings.TrimSpace(HumanSize(bl.size)), what)))
	}
	b.WriteString("</svg>\n")
	_, err := io.WriteString(w, b.String())
	return err
}

func typeOrFree(class string) string { return mapClasses[classIndex(class)].name }

// writeFileAtomic writes path through a temporary file and a rename.
func writeFileAtomic(path string, write func(io.Writer) error) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return err
	}
	tmp := f.Name()
	if err := write(f); err != nil {
		f.Close()
		os.Remove(tmp)
		return err
	}
	if err := f.Close(); err != nil {
		os.Remove(tmp)
		return err
	}
	if err := os.Chmod(tmp, 0o644); err != nil && !errors.Is(err, os.ErrPermission) {
		os.Remove(tmp)
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return err
	}
	return nil
}
