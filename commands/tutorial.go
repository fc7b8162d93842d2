package commands

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"wdb/dump"
)

// .tutorial walks a learner through the memory-mapped-file leak of the
// built-in sample dump (PRODUCT.md, "Teaching dump analysis"): summary →
// mapped views → one view → who holds its base → the object around a
// holder → its vftable → every object with that vftable → its heap block →
// the block's owner → the owner's class → counting the owners →
// conclusion. Each step says what to look for and lets the learner type
// the command; after every command the hook in Session.run (afterCommand,
// explain.go) hands the typed result to the step's check, which decides
// whether the step's goal was met — not whether the text matches — and
// records what the learner found (the view, its holders, the vftable, the
// owner's size), so that later steps speak of the learner's own addresses.
//
// The addresses come from the learner's results, and where a step needs
// one before the learner has found it, from the dump itself (its regions,
// its symbols). The sample is recognised by its app module
// (C:\src\wdb\app.exe) and a marker: its section handles named
// ...\wdb_mmf_N, or "MSG:wdb fixture" at the start of a mapped view.
//
// Progress is saved after every change to
// os.UserConfigDir()/wdb/tutorial-<dump hash>.json, so ".tutorial" in a
// later run resumes where the learner left off. It works in scripts
// too: wdb -c ".tutorial; !address -summary; .tutorial next; ...".

func init() {
	Register(&Command{
		Name:    ".tutorial",
		Usage:   ".tutorial [next | hint | skip | status | restart | stop]",
		Summary: "a guided analysis of the built-in sample dump, step by step",
		Help: `.tutorial          start the tutorial, or show the current step again
.tutorial next     go on to the next step once this one is done
.tutorial hint     show the command for the current step
.tutorial skip     run the current step's command for you
.tutorial status   the steps done, skipped and to come, and what you found
.tutorial restart  start over from the first step
.tutorial stop     stop checking commands (.tutorial resumes)
The tutorial needs wdb's built-in sample dump: run wdb with no arguments.
Each step says what to look for; type the command yourself: after each
command wdb checks what it found and tells you when the step is done.
Progress is saved in wdb's configuration directory, per dump, and resumes
in the next session.`,
		Complete: func(*Session, string) []string {
			return []string{"next", "hint", "skip", "status", "restart", "stop"}
		},
		Run: runTutorial,
	})
}

// tutorialVersion changes when the steps change, so old progress files
// start over.
const tutorialVersion = 1

// tutorialConfigDir is the directory of the progress files; tests point it
// elsewhere.
var tutorialConfigDir = func() (string, error) {
	d, err := os.UserConfigDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(d, "wdb"), nil
}

// tutorialFacts is what the learner has found so far.
type tutorialFacts struct {
	MappedBytes   uint64   `json:"mapped_bytes,omitempty"`
	MappedCount   int      `json:"mapped_regions,omitempty"`
	MappedPct     float64  `json:"mapped_pct_busy,omitempty"`
	Views256      int      `json:"views_256k,omitempty"`
	Views512      int      `json:"views_512k,omitempty"`
	FirstView     uint64   `json:"first_view,omitempty"`
	ViewBase      uint64   `json:"view_base,omitempty"` // the view the learner picked
	Holders       []uint64 `json:"holders,omitempty"`   // who holds its base
	SerializerAt  uint64   `json:"serializer_at,omitempty"`
	SerializerVft uint64   `json:"serializer_vftable,omitempty"`
	Instances     int      `json:"instances,omitempty"` // hits of the vftable search
	Serializer    uint64   `json:"serializer_block,omitempty"`
	SerializerLen uint64   `json:"serializer_size,omitempty"`
	Heap          uint64   `json:"heap,omitempty"`
	Owner         uint64   `json:"owner,omitempty"`
	OwnerSize     uint64   `json:"owner_size,omitempty"`
	OwnerVft      uint64   `json:"owner_vftable,omitempty"`
	Count         uint64   `json:"count,omitempty"`
}

// tutorialState is a session's tutorial: the saved progress and whether
// commands are being checked.
type tutorialState struct {
	Version  int           `json:"version"`
	Dump     string        `json:"dump"`
	Step     int           `json:"step"`  // index of the current step
	Shown    bool          `json:"shown"` // the current step's text was shown
	Finished bool          `json:"finished"`
	Hinted   []string      `json:"hinted,omitempty"`
	Skipped  []string      `json:"skipped,omitempty"`
	Facts    tutorialFacts `json:"facts"`

	active   bool   // checking commands
	resumed  bool   // loaded from a progress file with progress in it
	path     string // the progress file; "" when there is none
	skipping bool   // .tutorial skip is running the step's command
	warned   bool   // a save failed and the learner was told
}

// TutorialView is what .tutorial prints, and the feedback after a checked
// command: a step's instructions, a step done, a nudge, a hint.
type TutorialView struct {
	Kind     string `json:"kind"` // step, done, nudge, hint, skip, status, finished, stopped
	Step     int    `json:"step"` // 1-based
	Steps    int    `json:"steps"`
	Title    string `json:"title"`
	Command  string `json:"command,omitempty"` // the step's command (hint, skip)
	Text     string `json:"text"`
	Finished bool   `json:"finished"`

	heading string
}

// WriteText prints the heading and the text: prose lines wrapped at 78
// columns, indented lines (commands) as they are.
func (v *TutorialView) WriteText(w io.Writer) {
	if v.heading != "" {
		h := v.heading
		if n := 78 - len(h); n > 0 {
			fill := "-"
			if v.Kind == "step" || v.Kind == "finished" {
				fill = "="
			}
			h += " " + strings.Repeat(fill, n-1)
		}
		fmt.Fprintln(w, h)
	}
	for _, line := range strings.Split(strings.TrimRight(v.Text, "\n"), "\n") {
		if line == "" || strings.HasPrefix(line, " ") {
			fmt.Fprintln(w, line)
			continue
		}
		for _, l := range wrapText(line, 78) {
			fmt.Fprintln(w, l)
		}
	}
}

// tutor is one step's view of the session, the state and the facts.
type tutor struct {
	s  *Session
	st *tutorialState
	f  *tutorialFacts
}

func (t *tutor) ptr() int { return t.s.PointerSize() }

// addr is an address as output shows it: 0000020b`96060000.
func (t *tutor) addr(v uint64) string { return t.s.Addr(v) }

// arg is an address as one types it: 20b`96060000.
func (t *tutor) arg(v uint64) string { return FormatShortAddr(t.ptr(), v) }

// search is the pointer search over the whole user address space.
func (t *tutor) search(v string) string {
	if t.ptr() == 4 {
		return "s -d 0 L?7fffffff " + v
	}
	return "s -q 0 L?7fffffffffff " + v
}

func (t *tutor) searchFlag() string {
	if t.ptr() == 4 {
		return "s -d"
	}
	return "s -q"
}

func (t *tutor) dps() string {
	if t.ptr() == 4 {
		return "dds"
	}
	return "dqs"
}

func (t *tutor) bits() string {
	if t.ptr() == 4 {
		return "32-bit process, where pointers are 4 bytes"
	}
	return "64-bit process, where pointers are 8 bytes"
}

// view is the view the learner picked, else the first 256 KB view.
func (t *tutor) view() uint64 {
	if t.f.ViewBase != 0 {
		return t.f.ViewBase
	}
	if t.f.FirstView != 0 {
		return t.f.FirstView
	}
	for _, r := range addressRegions(t.s) {
		if isView(&r) && r.Size == 256<<10 {
			return r.Base
		}
	}
	return 0
}

// serializerVft is app!CMMFSerializer::`vftable', as found or from symbols.
func (t *tutor) serializerVft() uint64 {
	if t.f.SerializerVft != 0 {
		return t.f.SerializerVft
	}
	v, _ := t.s.Symbols.Lookup("app!CMMFSerializer::`vftable'")
	return v
}

// serializerHolder is the object around the holder of the view's base
// whose first pointer is the CMMFSerializer vftable: the address to
// display in step "look".
func (t *tutor) serializerHolder() uint64 {
	if t.f.SerializerAt != 0 {
		return t.f.SerializerAt
	}
	vft := t.serializerVft()
	p := uint64(t.ptr())
	for _, h := range t.f.Holders {
		// The field is a few pointers into the object (x86 pads the
		// vftable pointer to 8 bytes).
		for back := p; back <= 4*p && vft != 0; back += p {
			if v, ok := t.pointerAt(h - back); ok && v == vft {
				return h - back
			}
		}
	}
	if len(t.f.Holders) > 0 {
		return t.f.Holders[0] - 8
	}
	return 0
}

// isView reports a committed MEM_MAPPED region at the start of its allocation.
func isView(r *dump.Region) bool {
	return r.Type == dump.MemMapped && r.State == dump.MemCommit && r.Base == r.AllocationBase
}

// mappedViewAt returns the view whose base is addr.
func (t *tutor) mappedViewAt(addr uint64) (*dump.Region, bool) {
	r, ok := regionAt(addressRegions(t.s), addr)
	if !ok || r.Base != addr || !isView(r) {
		return nil, false
	}
	return r, true
}

// pointerAt reads a pointer of the target.
func (t *tutor) pointerAt(addr uint64) (uint64, bool) {
	v, err := t.s.Target.ReadUint(addr, t.ptr())
	return v, err == nil
}

// tutorialStep is one step: its title, its instructions, the command that
// does it and the check that decides, from a command's typed result,
// whether the step's goal was met. The conclusion has no check.
type tutorialStep struct {
	id, title string
	text      func(t *tutor) string
	hint      string // why the command does it
	command   func(t *tutor) string
	check     func(t *tutor, inv *Invocation, res Result) (done bool, msg string)
}

var tutorialSteps []tutorialStep

func init() { tutorialSteps = buildTutorialSteps() }

func buildTutorialSteps() []tutorialStep {
	return []tutorialStep{
		{
			id: "summary", title: "The big picture",
			text: func(t *tutor) string {
				return "The process died because MapViewOfFile could not map one more view of a file mapping (.lastevent and k tell that part). So where did the address space go?\n\n" +
					"!address -summary adds up every region of the process by usage, by type, by state and by protection. Look at the Type Summary: which type holds the most memory, and in how many regions?"
			},
			hint:    "total the regions of the address space",
			command: func(*tutor) string { return "!address -summary" },
			check: func(t *tutor, inv *Invocation, res Result) (bool, string) {
				r, ok := res.(*AddressSummary)
				if !ok {
					return false, ""
				}
				var mapped, private *SummaryRow
				for i := range r.Type {
					switch r.Type[i].Name {
					case "MEM_MAPPED":
						mapped = &r.Type[i]
					case "MEM_PRIVATE":
						private = &r.Type[i]
					}
				}
				if mapped == nil {
					return false, "That summary has no MEM_MAPPED row: run !address -summary without filters."
				}
				t.f.MappedBytes, t.f.MappedCount, t.f.MappedPct = mapped.Size, mapped.Count, mapped.PctBusy
				msg := fmt.Sprintf("MEM_MAPPED holds %s in %d regions: %.1f%% of all busy memory", strings.TrimSpace(HumanSize(mapped.Size)), mapped.Count, mapped.PctBusy)
				if private != nil {
					msg += fmt.Sprintf(" (MEM_PRIVATE, the heaps and stacks, has %s)", strings.TrimSpace(HumanSize(private.Size)))
				}
				return true, msg + ". Mapped regions are views of file mappings, made by MapViewOfFile. A program needs a few of them, not hundreds: something keeps mapping views."
			},
		},
		{
			id: "mapped", title: "List the mapped views",
			text: func(t *tutor) string {
				return "!address -f:MEM_MAPPED lists only the MEM_MAPPED regions, one per line: base, end, size, type, state, protection, usage, and a preview of the first bytes.\n\n" +
					"Look at the RegionSize column. Do you see one size over and over?"
			},
			hint:    "list only the MEM_MAPPED regions",
			command: func(*tutor) string { return "!address -f:MEM_MAPPED" },
			check: func(t *tutor, inv *Invocation, res Result) (bool, string) {
				r, ok := res.(*regionList)
				if !ok {
					return false, ""
				}
				n256, n512, other, first := 0, 0, 0, uint64(0)
				previews := map[string]int{}
				for _, row := range r.Regions {
					if row.Type != "MEM_MAPPED" {
						other++
						continue
					}
					if row.State != "MEM_COMMIT" || row.Base != row.AllocationBase {
						continue
					}
					switch row.Size {
					case 256 << 10:
						n256++
						if first == 0 {
							first = row.Base
						}
					case 512 << 10:
						n512++
					}
					if row.Detail != "" {
						previews[row.Detail]++
					}
				}
				if other > 0 {
					return false, "That list has every kind of region. Add the filter -f:MEM_MAPPED to see only the mapped views."
				}
				if n256 < 10 {
					return false, ""
				}
				t.f.Views256, t.f.Views512, t.f.FirstView = n256, n512, first
				msg := fmt.Sprintf("%d of the %d mapped regions are exactly 256 KB (RegionSize %s)", n256, len(r.Regions), FormatShortAddr(t.ptr(), 256<<10))
				if n512 > 0 {
					msg += fmt.Sprintf(" and %d are 512 KB", n512)
				}
				msg += ": the same kind of view, mapped again and again and never unmapped."
				for p, n := range previews {
					if n >= (n256+n512)/2 {
						msg += fmt.Sprintf(" Most previews begin [%s]: the program writes into them.", p)
						break
					}
				}
				return true, msg
			},
		},
		{
			id: "view", title: "Pick one view",
			text: func(t *tutor) string {
				return fmt.Sprintf("Take one of the 256 KB views, for example the first one, %s, and look at it alone: !address ADDR shows the region that contains ADDR.\n\n"+
					"Note its Usage: wdb, like WinDbg, cannot tell who mapped a view. That is what the next steps find out.", t.addr(t.view()))
			},
			hint:    "show one 256 KB view's region",
			command: func(t *tutor) string { return "!address " + t.arg(t.view()) },
			check: func(t *tutor, inv *Invocation, res Result) (bool, string) {
				r, ok := res.(*RegionDetail)
				if !ok {
					return false, ""
				}
				if r.Region.Type != "MEM_MAPPED" {
					return false, fmt.Sprintf("%s is in a %s region, not a mapped view. Pick one of the 256 KB views that !address -f:MEM_MAPPED listed, such as %s.", t.addr(r.Address), orNone(r.Region.Type, r.Region.State), t.arg(t.view()))
				}
				if r.Region.Size != 256<<10 {
					return false, fmt.Sprintf("That view is %s; pick one of the 256 KB views, such as %s.", strings.TrimSpace(HumanSize(r.Region.Size)), t.arg(t.view()))
				}
				t.f.ViewBase = r.Region.AllocationBase
				return true, fmt.Sprintf("The view at %s is 256 KB of committed, %s MEM_MAPPED memory, and its usage is %s: the region itself does not say who mapped it. "+
					"But whoever mapped it kept its base address somewhere, to use the view and to unmap it one day.", t.addr(t.f.ViewBase), r.Region.Protect, r.Region.Usage)
			},
		},
		{
			id: "holders", title: "Who holds the view's base?",
			text: func(t *tutor) string {
				return fmt.Sprintf("Search all of memory for the view's base address as a pointer. This is a %s, so use %s (8-byte values%s). "+
					"The range 0 L?%s covers the whole user address space.\n\n"+
					"Each hit is a place that holds the value %s. How many are there?",
					t.bits(), t.searchFlag(), map[bool]string{true: "", false: "; s -d on 32-bit dumps"}[t.ptr() == 4], map[bool]string{true: "7fffffff", false: "7fffffffffff"}[t.ptr() == 4], t.addr(t.view()))
			},
			hint:    "search the whole address space for the view's base as a pointer-sized value",
			command: func(t *tutor) string { return t.search(t.arg(t.view())) },
			check: func(t *tutor, inv *Invocation, res Result) (bool, string) {
				r, ok := res.(*SearchResult)
				if !ok {
					return false, ""
				}
				v, ok := searchValue(r, t.ptr())
				if !ok {
					if r.Type == "d" || r.Type == "q" {
						return false, fmt.Sprintf("This is a %s: search with %s, so that each hit is a whole pointer.", t.bits(), t.searchFlag())
					}
					return false, fmt.Sprintf("Search for the base as a pointer: %s finds %d-byte values.", t.searchFlag(), t.ptr())
				}
				if _, isView := t.mappedViewAt(v); !isView {
					return false, fmt.Sprintf("%s is not the base of a mapped view. Search for the base of the view you picked, %s.", t.addr(v), t.arg(t.view()))
				}
				if len(r.Hits) < 10 {
					return false, fmt.Sprintf("Only %d hits. Did the range cover the whole address space? Use 0 L?%s.", len(r.Hits), map[bool]string{true: "7fffffff", false: "7fffffffffff"}[t.ptr() == 4])
				}
				t.f.ViewBase = v
				t.f.Holders = nil
				for _, h := range r.Hits {
					if len(t.f.Holders) < 64 {
						t.f.Holders = append(t.f.Holders, h.Address)
					}
				}
				t.f.SerializerAt = 0
				return true, fmt.Sprintf("%d places hold %s. A pointer repeated that often is no accident: each hit is a field of an object, a cache entry or a record that refers to the view. "+
					"Which objects? Look at the memory around the hits.", len(r.Hits), t.addr(v))
			},
		},
		{
			id: "look", title: "Look around the hits",
			text: func(t *tutor) string {
				p := t.ptr()
				return fmt.Sprintf("A hit is usually a field inside an object. A C++ object with virtual functions starts with a pointer to its class's vftable, and %s shows memory as pointers with the symbol each one points at.\n\n"+
					"Display a few values from just before a hit, for example %s HIT-%d L4 (HIT-%d is where the object would start if the field is its second member). "+
					"Try the hits until the symbol column names a class's `vftable' — which class mapped the view?", t.dps(), t.dps(), p, p)
			},
			hint: "display the pointers around the hit that sits in a CMMFSerializer",
			command: func(t *tutor) string {
				return fmt.Sprintf("%s %s L4", t.dps(), t.arg(t.serializerHolder()))
			},
			check: func(t *tutor, inv *Invocation, res Result) (bool, string) {
				r, ok := res.(*MemoryDisplay)
				if !ok {
					return false, ""
				}
				if !strings.HasSuffix(r.Format, "s") {
					return false, fmt.Sprintf("%s shows values only; %s also names what each value points at.", r.Format, t.dps())
				}
				if r.Count > 1<<16 {
					return false, ""
				}
				other := ""
				rows := r.Rows()
				for i, row := range rows {
					if row.Symbol == "" || len(row.Values) == 0 || row.Values[0] == nil {
						continue
					}
					if strings.HasSuffix(row.Symbol, "CMMFSerializer::`vftable'") {
						t.f.SerializerVft, t.f.SerializerAt = *row.Values[0], row.Address
						field := "one of its fields"
						for _, next := range rows[i+1:] {
							if len(next.Values) > 0 && next.Values[0] != nil && *next.Values[0] == t.view() {
								field = fmt.Sprintf("its field at +0x%x (m_viewBase)", next.Address-row.Address)
								break
							}
						}
						return true, fmt.Sprintf("%s holds %s: a CMMFSerializer object starts there, and the view's base sits in %s. "+
							"A serializer mapped the view, and still holds it. Are there more serializers? For that we need the vftable's address.", t.addr(row.Address), row.Symbol, field)
					}
					if strings.Contains(row.Symbol, "`vftable'") && other == "" {
						other = fmt.Sprintf("%s holds %s", t.addr(row.Address), row.Symbol)
					}
				}
				if other != "" {
					return false, other + ": an object that refers to the view, but not the one that mapped it. Try the other hits; look for a class whose name says it works with mapped files."
				}
				return false, fmt.Sprintf("No `vftable' in that display. Try another hit, and start %d bytes before it, where the object's vftable pointer would be.", t.ptr())
			},
		},
		{
			id: "symbol", title: "Find the vftable's address",
			text: func(t *tutor) string {
				return "Every CMMFSerializer object starts with the same value: the address of app!CMMFSerializer::`vftable'. Searching memory for that value finds every serializer.\n\n" +
					"x lists the symbols that match a pattern. List the class's symbols with x app!CMMFSerializer::* and find the `vftable' among the methods."
			},
			hint:    "list the symbols of the class CMMFSerializer",
			command: func(*tutor) string { return "x app!CMMFSerializer::*" },
			check: func(t *tutor, inv *Invocation, res Result) (bool, string) {
				r, ok := res.(*SymbolList)
				if !ok {
					return false, ""
				}
				for _, sym := range r.Symbols {
					if strings.EqualFold(sym.Module, "app") && sym.Name == "CMMFSerializer::`vftable'" {
						t.f.SerializerVft = sym.Address
						return true, fmt.Sprintf("app!CMMFSerializer::`vftable' is at %s. Every live CMMFSerializer starts with this value.", t.addr(sym.Address))
					}
				}
				return false, "That list has no app!CMMFSerializer::`vftable'. Try x app!CMMFSerializer::*"
			},
		},
		{
			id: "instances", title: "Find every serializer",
			text: func(t *tutor) string {
				return fmt.Sprintf("Search all of memory for the vftable's address, %s, the way you searched for the view's base. (You may also type the symbol instead of the number.)\n\n"+
					"Each hit in the heap is one CMMFSerializer object. How many are there, compared with the number of mapped views?", t.addr(t.serializerVft()))
			},
			hint:    "search the whole address space for the vftable address",
			command: func(t *tutor) string { return t.search(t.arg(t.serializerVft())) },
			check: func(t *tutor, inv *Invocation, res Result) (bool, string) {
				r, ok := res.(*SearchResult)
				if !ok {
					return false, ""
				}
				v, ok := searchValue(r, t.ptr())
				if !ok || v != t.serializerVft() {
					return false, fmt.Sprintf("Search for the vftable's address, %s, with %s.", t.arg(t.serializerVft()), t.searchFlag())
				}
				if len(r.Hits) < 10 {
					return false, fmt.Sprintf("Only %d hits: search the whole address space, 0 L?%s.", len(r.Hits), map[bool]string{true: "7fffffff", false: "7fffffffffff"}[t.ptr() == 4])
				}
				t.f.Instances = len(r.Hits)
				msg := fmt.Sprintf("%d hits: %d places start with the CMMFSerializer vftable", len(r.Hits), len(r.Hits))
				if views := t.f.Views256 + t.f.Views512; views > 0 {
					msg += fmt.Sprintf(", about one for each of the %d mapped views you counted", views)
				}
				return true, msg + ". Are they heap objects, and are they still allocated?"
			},
		},
		{
			id: "block", title: "Is it a heap block?",
			text: func(t *tutor) string {
				return fmt.Sprintf("Objects created with new live in heap blocks. !heap -x ADDR finds the heap block that contains an address and shows its header (Entry), the pointer the program got (User), its heap, size and flags.\n\n"+
					"Try it on one of the hits, such as the serializer you found, %s. Is the block busy (allocated) or free?", t.addr(t.serializerHolder()))
			},
			hint:    "find the heap block of one serializer",
			command: func(t *tutor) string { return "!heap -x " + t.arg(t.serializerHolder()) },
			check: func(t *tutor, inv *Invocation, res Result) (bool, string) {
				r, ok := res.(*HeapFindResult)
				if !ok {
					return false, ""
				}
				if v, ok := t.pointerAt(r.Block.User); !ok || v != t.serializerVft() {
					return false, fmt.Sprintf("The block at %s does not start with the CMMFSerializer vftable. Try one of the hits of the vftable search, such as %s.", t.addr(r.Block.User), t.arg(t.serializerHolder()))
				}
				if r.Block.State != "busy" {
					return false, fmt.Sprintf("That block is %s. Try another serializer.", r.Block.State)
				}
				t.f.Serializer, t.f.SerializerLen, t.f.Heap = r.Block.User, r.Block.UserSize, r.Block.Heap
				kind := ""
				if r.Block.Kind == "LFH" {
					kind = " (from the low-fragmentation heap, LFH, which serves small blocks)"
				}
				return true, fmt.Sprintf("%s is the user pointer of a busy block in heap %s%s: the program got it from new and has not freed it. "+
					"The block holds 0x%x bytes of user data, the size of a CMMFSerializer. Someone created it and keeps a pointer to it. Who?",
					t.addr(r.Block.User), t.addr(r.Block.Heap), kind, r.Block.UserSize)
			},
		},
		{
			id: "owner", title: "Who owns the serializer?",
			text: func(t *tutor) string {
				return fmt.Sprintf("An object is created by an owner that keeps a pointer to it. !heap -srch VALUE lists the busy heap blocks whose data holds VALUE: the objects that point at it.\n\n"+
					"Search the heap for the serializer's address, %s. What is the user size of the block that holds it?", t.addr(t.serializerBlock()))
			},
			hint:    "search the heap blocks for the serializer's address",
			command: func(t *tutor) string { return "!heap -srch " + t.arg(t.serializerBlock()) },
			check: func(t *tutor, inv *Invocation, res Result) (bool, string) {
				r, ok := res.(*HeapSearchResult)
				if !ok {
					return false, ""
				}
				pat, err := hex.DecodeString(r.Pattern)
				if err != nil || len(pat) != t.ptr() {
					return false, fmt.Sprintf("Search for the serializer's address as a pointer: !heap -srch %s.", t.arg(t.serializerBlock()))
				}
				v := leUint(pat)
				if vft, ok := t.pointerAt(v); !ok || vft != t.serializerVft() {
					return false, fmt.Sprintf("%s is not a CMMFSerializer. Search for the serializer's address, %s.", t.addr(v), t.arg(t.serializerBlock()))
				}
				for _, h := range r.Hits {
					if h.Block.State == "busy" && h.Block.User != v {
						t.f.Serializer = v
						t.f.Owner, t.f.OwnerSize = h.Block.User, h.Block.UserSize
						what := fmt.Sprintf("a bigger object than the serializer (0x%x), which owns it", t.f.SerializerLen)
						if t.f.SerializerLen == 0 || h.Block.UserSize <= t.f.SerializerLen {
							what = "another object, which owns the serializer"
						}
						return true, fmt.Sprintf("The busy block at %s holds the serializer's address. Its user size is 0x%x: %s. What is it?",
							t.addr(h.Block.User), h.Block.UserSize, what)
					}
				}
				return false, "No busy block holds that address. Try another serializer."
			},
		},
		{
			id: "ownerlook", title: "What is the owner?",
			text: func(t *tutor) string {
				return fmt.Sprintf("Display the owner the way you displayed the serializer: %s ADDR L5 at its user pointer, %s. Its first value names its class.", t.dps(), t.addr(t.f.Owner))
			},
			hint:    "display the owner's pointers and their symbols",
			command: func(t *tutor) string { return fmt.Sprintf("%s %s L5", t.dps(), t.arg(t.f.Owner)) },
			check: func(t *tutor, inv *Invocation, res Result) (bool, string) {
				r, ok := res.(*MemoryDisplay)
				if !ok || !strings.HasSuffix(r.Format, "s") || r.Count > 1<<16 {
					return false, ""
				}
				for _, row := range r.Rows() {
					if strings.HasSuffix(row.Symbol, "CommunicatorObj::`vftable'") && len(row.Values) > 0 && row.Values[0] != nil {
						t.f.OwnerVft = *row.Values[0]
						if t.f.Owner == 0 {
							t.f.Owner = row.Address
						}
						return true, fmt.Sprintf("%s is a CommunicatorObj: %s first, then its members — m_serializer (the serializer) and m_buffer. "+
							"Each CommunicatorObj owns a CMMFSerializer, and each serializer owns a mapped view. How many CommunicatorObjs are alive?", t.addr(row.Address), row.Symbol)
					}
				}
				return false, fmt.Sprintf("No CommunicatorObj there. Display the owner's block: %s %s L5.", t.dps(), t.arg(t.f.Owner))
			},
		},
		{
			id: "count", title: "Count them",
			text: func(t *tutor) string {
				return fmt.Sprintf("!heap -flt s SIZE lists every busy block of one user size, and !heap -stat groups the busy blocks by size with a count per size (in hex). "+
					"The owner's user size is 0x%x.\n\n"+
					"Count the blocks of that size and compare the number with the mapped views.", t.f.OwnerSize)
			},
			hint:    "list the heap blocks of the CommunicatorObj's size",
			command: func(t *tutor) string { return fmt.Sprintf("!heap -flt s %x", t.f.OwnerSize) },
			check: func(t *tutor, inv *Invocation, res Result) (bool, string) {
				var n, objs uint64 // blocks of the size; those that are CommunicatorObjs
				switch r := res.(type) {
				case *HeapFilterResult:
					if r.Min != t.f.OwnerSize || r.Max != t.f.OwnerSize+1 {
						return false, fmt.Sprintf("Those are blocks of another size. The CommunicatorObj's user size is 0x%x: !heap -flt s %x.", t.f.OwnerSize, t.f.OwnerSize)
					}
					for _, h := range r.Heaps {
						for _, b := range h.Blocks {
							if b.State == "busy" && b.UserSize == t.f.OwnerSize {
								n++
								if v, ok := t.pointerAt(b.User); ok && v == t.f.OwnerVft && v != 0 {
									objs++
								}
							}
						}
					}
				case *HeapStatResult:
					for _, h := range r.Heaps {
						for _, row := range h.Rows {
							if row.Size == t.f.OwnerSize {
								n += row.Count
							}
						}
					}
					if n == 0 {
						return false, fmt.Sprintf("Size 0x%x is not among the sizes listed: !heap -flt s %x lists its blocks.", t.f.OwnerSize, t.f.OwnerSize)
					}
				default:
					return false, ""
				}
				if n < 10 {
					return false, ""
				}
				t.f.Count = n
				msg := fmt.Sprintf("%d busy blocks (0x%x) of user size 0x%x", n, n, t.f.OwnerSize)
				switch {
				case objs > 0 && objs < n:
					t.f.Count = objs
					msg += fmt.Sprintf("; %d of them start with app!CommunicatorObj::`vftable' (the others are objects of the same size, such as the serializers)", objs)
				case objs == 0 && t.f.OwnerSize == t.f.SerializerLen:
					msg += " (the serializers have that size too, so not all of them are CommunicatorObjs: !heap -flt s lets wdb tell them apart)"
				}
				if views := t.f.Views256 + t.f.Views512; views > 0 {
					msg += fmt.Sprintf(", against %d mapped views", views)
				}
				return true, msg + ": the CommunicatorObjs are never deleted, and each one keeps a view mapped."
			},
		},
		{
			id: "conclusion", title: "The diagnosis",
			text: func(t *tutor) string {
				f := t.f
				count := "Thousands"
				if f.Count > 0 {
					count = fmt.Sprintf("%d", f.Count)
				}
				mapped := ""
				if f.MappedBytes > 0 {
					mapped = fmt.Sprintf(" — %s of MEM_MAPPED memory", strings.TrimSpace(HumanSize(f.MappedBytes)))
				}
				return fmt.Sprintf("The process leaks CommunicatorObj objects. %s of them are alive in the heap, each owning a CMMFSerializer whose mapped view (256 or 512 KB) is never unmapped%s, until MapViewOfFile could not map another one "+
					"(the exception; k shows app!CMMFSerializer::Open calling MapViewOfFile).\n\n"+
					"The fix is in the app: delete each CommunicatorObj when its connection ends, and have the serializer's destructor call UnmapViewOfFile and CloseHandle.\n\n"+
					"What you used: !address -summary and -f: to see where the memory went; %s to find who holds a value; %s to recognise objects by their vftables; x for a symbol's address; "+
					"!heap -x, -srch, -flt and -stat to find, follow and count heap objects.\n\n"+
					"Tutorial complete. .explain on annotates every output with how to read it; .memmap draws the address space; .tutorial restart starts over.", count, mapped, t.searchFlag(), t.dps())
			},
		},
	}
}

// serializerBlock is the serializer's user address: from !heap -x, else
// the object found in step "look".
func (t *tutor) serializerBlock() uint64 {
	if t.f.Serializer != 0 {
		return t.f.Serializer
	}
	return t.serializerHolder()
}

func orNone(typ, state string) string {
	if typ == "" {
		return state
	}
	return typ
}

// searchValue is the pattern of a pointer-sized s -q/-d search.
func searchValue(r *SearchResult, ptr int) (uint64, bool) {
	if (ptr == 8 && r.Type != "q") || (ptr == 4 && r.Type != "d") {
		return 0, false
	}
	b, err := hex.DecodeString(r.Pattern)
	if err != nil || len(b) != ptr {
		return 0, false
	}
	return leUint(b), true
}

func leUint(b []byte) uint64 {
	var buf [8]byte
	copy(buf[:], b)
	return binary.LittleEndian.Uint64(buf[:])
}

// isSampleDump recognises wdb's built-in sample: its app module and a
// marker (the section handles of the views, or a view's first bytes).
func isSampleDump(f *dump.File) bool {
	app := false
	for i := range f.Modules {
		if strings.HasSuffix(strings.ToLower(f.Modules[i].Name), `\wdb\app.exe`) {
			app = true
		}
	}
	if !app {
		return false
	}
	for _, h := range f.Handles {
		if strings.Contains(h.ObjectName, `\wdb_mmf_`) {
			return true
		}
	}
	seen := 0
	for _, r := range f.Regions() {
		if r.Type != dump.MemMapped || r.State != dump.MemCommit {
			continue
		}
		var b [15]byte
		if n, _ := f.ReadMemory(r.Base, b[:]); n == len(b) && bytes.Equal(b[:], []byte("MSG:wdb fixture")) {
			return true
		}
		if seen++; seen > 64 {
			break
		}
	}
	return false
}

// dumpHash identifies a dump for its progress file: its size, time stamp,
// modules and exception.
func dumpHash(f *dump.File) string {
	h := sha256.New()
	fmt.Fprintf(h, "%d %d %d %d\n", f.Size, f.Header.TimeDateStamp, f.Header.CheckSum, len(f.Threads))
	for _, m := range f.Modules {
		fmt.Fprintf(h, "%s %x %x %x\n", m.Name, m.Base, m.Size, m.TimeDateStamp)
	}
	if e := f.Exception; e != nil {
		fmt.Fprintf(h, "%x %x %x\n", e.ThreadID, e.Code, e.Address)
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}

// errNotSample is .tutorial on another dump.
var errNotSample = errors.New("The tutorial works on wdb's built-in sample dump, which this is not: run wdb with no arguments to open the sample, then type .tutorial")

// loadTutorial returns the session's tutorial, reading the progress file
// the first time.
func (s *Session) loadTutorial() *tutorialState {
	if s.tutorial != nil {
		return s.tutorial
	}
	hash := dumpHash(s.Target)
	st := &tutorialState{Version: tutorialVersion, Dump: hash}
	if dir, err := tutorialConfigDir(); err == nil {
		st.path = filepath.Join(dir, "tutorial-"+hash+".json")
		if b, err := os.ReadFile(st.path); err == nil {
			var saved tutorialState
			if json.Unmarshal(b, &saved) == nil && saved.Version == tutorialVersion && saved.Dump == hash &&
				saved.Step >= 0 && saved.Step < len(tutorialSteps) {
				saved.path = st.path
				saved.resumed = saved.Step > 0 || saved.Finished
				st = &saved
			}
		}
	}
	s.tutorial = st
	return st
}

// save writes the progress file (temp file and rename); a failure is
// reported once.
func (s *Session) saveTutorial() {
	st := s.tutorial
	if st == nil || st.path == "" {
		return
	}
	b, err := json.MarshalIndent(st, "", "  ")
	if err == nil {
		err = os.MkdirAll(filepath.Dir(st.path), 0o755)
	}
	if err == nil {
		err = writeFileAtomic(st.path, func(w io.Writer) error { _, err := w.Write(append(b, '\n')); return err })
	}
	if err != nil && !st.warned {
		st.warned = true
		fmt.Fprintf(s.Stderr(), "tutorial: cannot save your progress (%v); it lasts for this session only\n", err)
	}
}

func (s *Session) tutor() *tutor {
	return &tutor{s: s, st: s.tutorial, f: &s.tutorial.Facts}
}

// emitTutorial prints feedback that is not a command's own result: as
// text, or in JSON mode as a record of the pseudo-command ".tutorial".
func (s *Session) emitTutorial(v *TutorialView) {
	if s.JSON {
		s.writeJSON(&Invocation{Name: ".tutorial", Line: ".tutorial"}, v, nil)
		return
	}
	v.WriteText(s.Out())
}

const tutorialIntro = "Welcome to the wdb tutorial. This dump is of a process that crashed when MapViewOfFile could not map one more view of a file mapping. " +
	"In %d steps you will find out what used up the memory: the classic memory-mapped-file leak analysis, as you would do it in WinDbg.\n\n" +
	"Each step says what to look for; you type the command. After each command wdb checks what it found (not the exact text) and tells you when the step is done.\n" +
	"  .tutorial          show the current step again\n" +
	"  .tutorial hint     show the command for this step\n" +
	"  .tutorial skip     run it for you\n" +
	"  .tutorial status   your progress; .tutorial restart starts over\n" +
	"  .explain on        a note after each output on how to read it\n" +
	"Your progress is saved: quit any time, run wdb again and type .tutorial to go on.\n\n"

// stepView is the instructions of the current step.
func (s *Session) stepView(prefix string) *TutorialView {
	st := s.tutorial
	step := tutorialSteps[st.Step]
	st.Shown = true
	text := step.text(s.tutor())
	if step.check != nil {
		text += "\n\nType the command yourself (.tutorial hint shows it, .tutorial skip runs it)."
	} else {
		st.Finished = true // the conclusion: reading it ends the tutorial
	}
	return &TutorialView{Kind: "step", Step: st.Step + 1, Steps: len(tutorialSteps), Title: step.title, Text: prefix + text,
		heading: fmt.Sprintf("=== Tutorial step %d of %d: %s", st.Step+1, len(tutorialSteps), step.title)}
}

func runTutorial(s *Session, inv *Invocation) (Result, error) {
	if s.Target == nil {
		return nil, errNotSample
	}
	sub := strings.ToLower(strings.TrimSpace(inv.Args))
	switch sub {
	case "", "next", "hint", "skip", "status", "restart", "stop", "off":
	default:
		return nil, fmt.Errorf("Unknown .tutorial option '%s' (.tutorial [next | hint | skip | status | restart | stop])", inv.Args)
	}
	if !isSampleDump(s.Target) {
		return nil, errNotSample
	}
	first := s.tutorial == nil || !s.tutorial.active
	st := s.loadTutorial()
	welcome := ""
	if first && st.resumed && sub != "restart" {
		if st.Finished {
			welcome = "Welcome back: you have completed this tutorial.\n\n"
		} else {
			welcome = fmt.Sprintf("Welcome back: resuming the tutorial at step %d of %d (.tutorial restart starts over).\n\n", st.Step+1, len(tutorialSteps))
		}
	}
	st.resumed = false
	st.active = true
	defer s.saveTutorial()
	finished := func() *TutorialView {
		return &TutorialView{Kind: "finished", Step: len(tutorialSteps), Steps: len(tutorialSteps), Finished: true,
			Text: welcome + "You have completed the tutorial. .tutorial restart runs it again from the start; .explain on keeps annotating outputs."}
	}
	switch sub {
	case "restart":
		*st = tutorialState{Version: tutorialVersion, Dump: st.Dump, path: st.path, active: true, warned: st.warned}
		return s.stepView(fmt.Sprintf(tutorialIntro, len(tutorialSteps))), nil
	case "stop", "off":
		st.active = false
		return &TutorialView{Kind: "stopped", Step: st.Step + 1, Steps: len(tutorialSteps), Finished: st.Finished,
			Text: fmt.Sprintf("Tutorial stopped at step %d of %d; commands are no longer checked. .tutorial resumes.", st.Step+1, len(tutorialSteps))}, nil
	case "status":
		return s.tutorialStatus(welcome), nil
	}
	if st.Finished {
		return finished(), nil
	}
	step := tutorialSteps[st.Step]
	switch sub {
	case "":
		prefix := welcome
		if st.Step == 0 && !st.Shown {
			prefix = fmt.Sprintf(tutorialIntro, len(tutorialSteps))
		}
		return s.stepView(prefix), nil
	case "next":
		if !st.Shown || welcome != "" || step.check == nil {
			return s.stepView(welcome), nil
		}
		return &TutorialView{Kind: "nudge", Step: st.Step + 1, Steps: len(tutorialSteps), Title: step.title,
			Text: fmt.Sprintf("Step %d, %q, is not done yet: run a command that does it. .tutorial shows the step again, .tutorial hint shows the command, .tutorial skip runs it for you.",
				st.Step+1, step.title)}, nil
	case "hint":
		if step.check == nil {
			return &TutorialView{Kind: "hint", Step: st.Step + 1, Steps: len(tutorialSteps), Title: step.title,
				Text: welcome + "Nothing to type here: read the diagnosis (.tutorial shows it) and type .tutorial next to finish."}, nil
		}
		st.Hinted = addOnce(st.Hinted, step.id)
		cmd := step.command(s.tutor())
		return &TutorialView{Kind: "hint", Step: st.Step + 1, Steps: len(tutorialSteps), Title: step.title, Command: cmd,
			Text: fmt.Sprintf("%sHint for step %d: %s:\n    %s", welcome, st.Step+1, step.hint, cmd)}, nil
	case "skip":
		if step.check == nil {
			return s.stepView(welcome), nil
		}
		cmd := step.command(s.tutor())
		s.emitTutorial(&TutorialView{Kind: "skip", Step: st.Step + 1, Steps: len(tutorialSteps), Title: step.title, Command: cmd,
			Text: fmt.Sprintf("%sSkipping step %d, %q: wdb runs its command for you.\n%s%s", welcome, st.Step+1, step.title, s.Prompt(), cmd)})
		at := st.Step
		st.skipping = true
		s.Execute(cmd)
		st.skipping = false
		if st.Step == at && !st.Finished {
			// The command did not do the step (it should): move on anyway.
			st.Skipped = addOnce(st.Skipped, step.id)
			st.Step++
			st.Shown = false
			return s.stepView("That did not complete the step; moving on.\n\n"), nil
		}
		return nil, nil
	}
	return nil, nil
}

// tutorialStatus lists the steps and what the learner found.
func (s *Session) tutorialStatus(welcome string) *TutorialView {
	st := s.tutorial
	t := s.tutor()
	var b strings.Builder
	b.WriteString(welcome)
	fmt.Fprintf(&b, "Tutorial progress (saved as tutorial-%s.json in wdb's configuration directory):\n", st.Dump)
	for i, step := range tutorialSteps {
		mark := " "
		switch {
		case st.Finished || i < st.Step:
			mark = "x"
			if contains(st.Skipped, step.id) {
				mark = "s"
			}
		case i == st.Step:
			mark = ">"
		}
		note := ""
		if contains(st.Hinted, step.id) {
			note = "  (hint)"
		}
		if contains(st.Skipped, step.id) {
			note += "  (skipped)"
		}
		fmt.Fprintf(&b, "  [%s] %2d. %s%s\n", mark, i+1, step.title, note)
	}
	f := &st.Facts
	var found []string
	if f.MappedBytes > 0 {
		found = append(found, fmt.Sprintf("MEM_MAPPED: %s in %d regions", strings.TrimSpace(HumanSize(f.MappedBytes)), f.MappedCount))
	}
	if f.Views256 > 0 {
		found = append(found, fmt.Sprintf("mapped views: %d of 256 KB, %d of 512 KB", f.Views256, f.Views512))
	}
	if f.ViewBase != 0 {
		found = append(found, "your view: "+t.addr(f.ViewBase))
	}
	if len(f.Holders) > 0 {
		found = append(found, fmt.Sprintf("places holding its base: %d", len(f.Holders)))
	}
	if f.SerializerVft != 0 {
		found = append(found, "app!CMMFSerializer::`vftable': "+t.addr(f.SerializerVft))
	}
	if f.Instances > 0 {
		found = append(found, fmt.Sprintf("serializers: %d", f.Instances))
	}
	if f.Serializer != 0 {
		found = append(found, fmt.Sprintf("a serializer's heap block: %s (0x%x bytes)", t.addr(f.Serializer), f.SerializerLen))
	}
	if f.Owner != 0 {
		found = append(found, fmt.Sprintf("its owner: %s (0x%x bytes)", t.addr(f.Owner), f.OwnerSize))
	}
	if f.Count > 0 {
		found = append(found, fmt.Sprintf("CommunicatorObjs alive: %d", f.Count))
	}
	if len(found) > 0 {
		b.WriteString("What you found:\n")
		for _, l := range found {
			b.WriteString("    " + l + "\n")
		}
	}
	return &TutorialView{Kind: "status", Step: st.Step + 1, Steps: len(tutorialSteps), Title: tutorialSteps[st.Step].title, Finished: st.Finished, Text: b.String()}
}

// tutorialCheck runs the current step's check on a command's result and
// reports: the step done (and the next one), or a nudge when the command
// was meant for the step but missed its goal. Unrelated commands get no
// comment.
func (s *Session) tutorialCheck(inv *Invocation, res Result, err error) {
	st := s.tutorial
	if st.Finished || st.Step >= len(tutorialSteps) || res == nil || s.Target == nil {
		return
	}
	step := tutorialSteps[st.Step]
	if step.check == nil {
		return
	}
	done, msg := step.check(s.tutor(), inv, res)
	if !done {
		if msg != "" {
			s.emitTutorial(&TutorialView{Kind: "nudge", Step: st.Step + 1, Steps: len(tutorialSteps), Title: step.title, Text: msg,
				heading: fmt.Sprintf("--- Tutorial, step %d of %d", st.Step+1, len(tutorialSteps))})
		}
		return
	}
	if st.skipping {
		st.Skipped = addOnce(st.Skipped, step.id)
	}
	st.Step++
	st.Shown = false
	s.saveTutorial()
	next := tutorialSteps[st.Step]
	text := msg + "\n" + fmt.Sprintf("Next: step %d of %d, %q. Type .tutorial next.", st.Step+1, len(tutorialSteps), next.title)
	s.emitTutorial(&TutorialView{Kind: "done", Step: st.Step, Steps: len(tutorialSteps), Title: step.title, Text: text,
		heading: fmt.Sprintf("--- Tutorial: step %d of %d done", st.Step, len(tutorialSteps))})
}

func addOnce(list []string, id string) []string {
	if contains(list, id) {
		return list
	}
	return append(list, id)
}

func contains(list []string, id string) bool {
	for _, x := range list {
		if x == id {
			return true
		}
	}
	return false
}
