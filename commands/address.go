package commands

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"

	"wdb/dump"
)

func init() {
	Register(&Command{
		Name:    "!address",
		Usage:   `!address [ADDR | -summary | -f:FILTER[,FILTER...] [-c:"CMD %1 %2 ..."]]`,
		Summary: "display the memory regions of the process",
		Help: `!address                 list every region of the user address space
!address ADDR            show the region that contains ADDR
!address -summary        usage, type, state and protection totals
!address -f:F1,F2        list the regions that match the filters:
    usage:    Free Image Stack TEB PEB Heap Other VAR (= <unknown>)
    type:     MEM_IMAGE MEM_MAPPED MEM_PRIVATE
    state:    MEM_COMMIT MEM_RESERVE MEM_FREE
    protect:  PAGE_NOACCESS PAGE_READONLY PAGE_READWRITE PAGE_WRITECOPY PAGE_EXECUTE
              PAGE_EXECUTE_READ PAGE_EXECUTE_READWRITE PAGE_EXECUTE_WRITECOPY
              PAGE_GUARD PAGE_NOCACHE PAGE_WRITECOMBINE
    Filters of one kind are alternatives; filters of different kinds must all match.
!address -f:... -c:"CMD" run CMD for each region; %1 base, %2 end, %3 size,
                         %4 type, %5 state, %6 protection, %7 usage
Dumps without a MemoryInfoList get regions derived from the captured memory,
the modules and the thread stacks; the output says so.`,
		Complete: completeAddress,
		Run:      runAddress,
	})
}

var typeNames = []struct {
	v    uint32
	name string
}{{dump.MemImage, "MEM_IMAGE"}, {dump.MemMapped, "MEM_MAPPED"}, {dump.MemPrivate, "MEM_PRIVATE"}}

var stateNames = []struct {
	v    uint32
	name string
}{{dump.MemCommit, "MEM_COMMIT"}, {dump.MemReserve, "MEM_RESERVE"}, {dump.MemFree, "MEM_FREE"}}

var protectNames = []struct {
	v    uint32
	name string
}{
	{dump.PageNoAccess, "PAGE_NOACCESS"}, {dump.PageReadOnly, "PAGE_READONLY"}, {dump.PageReadWrite, "PAGE_READWRITE"},
	{dump.PageWriteCopy, "PAGE_WRITECOPY"}, {dump.PageExecute, "PAGE_EXECUTE"}, {dump.PageExecuteRead, "PAGE_EXECUTE_READ"},
	{dump.PageExecuteReadWrite, "PAGE_EXECUTE_READWRITE"}, {dump.PageExecuteWriteCopy, "PAGE_EXECUTE_WRITECOPY"},
	{dump.PageGuard, "PAGE_GUARD"}, {dump.PageNoCache, "PAGE_NOCACHE"}, {dump.PageWriteCombine, "PAGE_WRITECOMBINE"},
}

func typeName(t uint32) string {
	for _, n := range typeNames {
		if n.v == t {
			return n.name
		}
	}
	return ""
}

func stateName(s uint32) string {
	for _, n := range stateNames {
		if n.v == s {
			return n.name
		}
	}
	return ""
}

// protectName joins the names of the protection bits with sep ("|" in the
// summary tables, " | " in lists).
func protectName(p uint32, sep string) string {
	if p == 0 {
		return ""
	}
	var parts []string
	rest := p
	for _, n := range protectNames {
		if p&0xff == n.v || (n.v >= dump.PageGuard && p&n.v != 0) {
			parts = append(parts, n.name)
			rest &^= n.v
		}
	}
	if rest != 0 || len(parts) == 0 {
		parts = append(parts, fmt.Sprintf("%08x", rest))
	}
	return strings.Join(parts, sep)
}

func completeAddress(s *Session, args string) []string {
	if i := strings.LastIndexAny(args, ":,"); i >= 0 && strings.Contains(args, "-f:") {
		prefix := args[:i+1]
		var out []string
		for _, f := range addressFilterNames() {
			out = append(out, prefix+f)
		}
		return out
	}
	return []string{"-summary", "-f:", "-c:"}
}

func addressFilterNames() []string {
	out := []string{"Free", "Image", "Stack", "TEB", "PEB", "Heap", "Other", "VAR"}
	for _, n := range typeNames {
		out = append(out, n.name)
	}
	for _, n := range stateNames {
		out = append(out, n.name)
	}
	for _, n := range protectNames {
		out = append(out, n.name)
	}
	return out
}

// regionFilter keeps regions that match one filter of every kind given.
type regionFilter struct {
	usages   []dump.Usage
	types    []uint32
	states   []uint32
	protects []uint32
}

func parseRegionFilter(spec string) (*regionFilter, error) {
	f := &regionFilter{}
	for _, name := range strings.Split(spec, ",") {
		name = strings.TrimSpace(name)
		if name == "" {
			continue
		}
		up := strings.ToUpper(name)
		found := false
		for _, n := range typeNames {
			if up == n.name {
				f.types, found = append(f.types, n.v), true
			}
		}
		for _, n := range stateNames {
			if up == n.name {
				f.states, found = append(f.states, n.v), true
			}
		}
		for _, n := range protectNames {
			if up == n.name {
				f.protects, found = append(f.protects, n.v), true
			}
		}
		if up == "VAR" {
			f.usages, found = append(f.usages, dump.UsageUnknown), true
		} else if u, ok := dump.UsageByName(name); ok {
			f.usages, found = append(f.usages, u), true
		}
		if !found {
			return nil, fmt.Errorf("Invalid filter '%s' in '-f:%s' (see !address /?)", name, spec)
		}
	}
	return f, nil
}

func (f *regionFilter) match(r *dump.Region) bool {
	if f == nil {
		return true
	}
	if len(f.usages) > 0 && !containsUsage(f.usages, r.Usage) {
		return false
	}
	if len(f.types) > 0 && !containsU32(f.types, r.Type) {
		return false
	}
	if len(f.states) > 0 && !containsU32(f.states, r.State) {
		return false
	}
	if len(f.protects) > 0 {
		ok := false
		for _, p := range f.protects {
			if p >= dump.PageGuard && r.Protect&p != 0 || p < dump.PageGuard && r.Protect&0xff == p {
				ok = true
			}
		}
		if !ok {
			return false
		}
	}
	return true
}

func containsUsage(list []dump.Usage, u dump.Usage) bool {
	for _, x := range list {
		if x == u {
			return true
		}
	}
	return false
}

func containsU32(list []uint32, v uint32) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

func runAddress(s *Session, inv *Invocation) (Result, error) {
	if s.Target == nil {
		return nil, errNoTarget
	}
	args := strings.TrimSpace(inv.Args)
	var filter *regionFilter
	var perRegion string
	summary, list := false, true
	for args != "" {
		switch {
		case hasOption(args, "summary"):
			summary, list = true, false
			args = restAfterWord(args)
		case hasOption(args, "?") || hasOption(args, "help"):
			c, _ := Lookup("!address")
			return helpResult{c}, nil
		case hasPrefixOption(args, "f:"):
			spec, rest := optionValue(args[3:])
			f, err := parseRegionFilter(spec)
			if err != nil {
				return nil, err
			}
			filter, args = f, rest
		case hasPrefixOption(args, "c:"):
			cmd, rest, err := quotedValue(args[3:])
			if err != nil {
				return nil, err
			}
			perRegion, args = cmd, rest
		case hasPrefixOption(args, "o:"):
			_, args = optionValue(args[3:]) // csv/tsv output: not supported, the JSON renderer serves tools
		case args[0] == '-' || args[0] == '/':
			return nil, fmt.Errorf("Invalid option '%s' (see !address /?)", strings.Fields(args)[0])
		default:
			addr, err := s.Eval(args)
			if err != nil {
				return nil, err
			}
			return addressDetail(s, addr)
		}
		args = strings.TrimSpace(args)
	}
	regions := addressRegions(s)
	if summary {
		return summarize(s, regions, filter), nil
	}
	_ = list
	res := &regionList{ptrSize: s.PointerSize(), marker: filter == nil && perRegion == "", Derived: !s.Target.HasMemoryInfo}
	if res.Derived && filter != nil && (containsU32(filter.types, dump.MemMapped) || containsU32(filter.types, dump.MemPrivate)) {
		res.Note = "Without a MemoryInfoList the type of a region (MEM_MAPPED or MEM_PRIVATE) is not recorded: only images are known. Captured regions of unknown type are listed by -f:VAR."
	}
	for i := range regions {
		r := &regions[i]
		if !filter.match(r) {
			continue
		}
		if s.Cancelled() {
			break
		}
		if perRegion != "" {
			cmd := expandRegionCommand(perRegion, r)
			s.Printf("*** Executing: %s\n", cmd)
			s.Execute(cmd)
			continue
		}
		row := regionRow(r)
		if row.Detail == "" {
			row.Detail = s.Target.Preview(r)
		}
		res.Regions = append(res.Regions, row)
	}
	if perRegion != "" {
		return nil, nil
	}
	return res, nil
}

func hasOption(args, name string) bool {
	if len(args) < 1+len(name) || (args[0] != '-' && args[0] != '/') {
		return false
	}
	rest := args[1:]
	return strings.EqualFold(rest[:len(name)], name) && (len(rest) == len(name) || isSpace(rest[len(name)]))
}

func hasPrefixOption(args, prefix string) bool {
	return len(args) >= 1+len(prefix) && (args[0] == '-' || args[0] == '/') && strings.EqualFold(args[1:1+len(prefix)], prefix)
}

func restAfterWord(args string) string {
	if i := strings.IndexAny(args, " \t"); i >= 0 {
		return args[i:]
	}
	return ""
}

// optionValue takes the value up to white space.
func optionValue(s string) (string, string) {
	if i := strings.IndexAny(s, " \t"); i >= 0 {
		return s[:i], s[i:]
	}
	return s, ""
}

// quotedValue takes a "..." value with \" escapes, or a bare word.
func quotedValue(s string) (string, string, error) {
	if !strings.HasPrefix(s, `"`) {
		v, rest := optionValue(s)
		return v, rest, nil
	}
	var b strings.Builder
	for i := 1; i < len(s); i++ {
		switch {
		case s[i] == '\\' && i+1 < len(s) && s[i+1] == '"':
			b.WriteByte('"')
			i++
		case s[i] == '"':
			return b.String(), s[i+1:], nil
		default:
			b.WriteByte(s[i])
		}
	}
	return "", "", fmt.Errorf("Missing closing quote in '%s'", s)
}

func expandRegionCommand(cmd string, r *dump.Region) string {
	repl := strings.NewReplacer(
		"%1", fmt.Sprintf("0x%x", r.Base),
		"%2", fmt.Sprintf("0x%x", r.End()),
		"%3", fmt.Sprintf("0x%x", r.Size),
		"%4", typeName(r.Type),
		"%5", stateName(r.State),
		"%6", protectName(r.Protect, "|"),
		"%7", r.UsageName(),
	)
	return repl.Replace(cmd)
}

// RegionRow is one region as !address lists it (and as JSON gives it).
type RegionRow struct {
	Base           uint64 `json:"base"`
	End            uint64 `json:"end"`
	Size           uint64 `json:"size"`
	AllocationBase uint64 `json:"allocation_base"`
	Type           string `json:"type"`
	State          string `json:"state"`
	Protect        string `json:"protect"`
	Usage          string `json:"usage"`
	Detail         string `json:"detail,omitempty"`
	CapturedBytes  uint64 `json:"captured_bytes"`
	Captured       bool   `json:"captured"` // every byte of the region is in the dump
	Derived        bool   `json:"derived,omitempty"`
}

func regionRow(r *dump.Region) RegionRow {
	return RegionRow{Base: r.Base, End: r.End(), Size: r.Size, AllocationBase: r.AllocationBase,
		Type: typeName(r.Type), State: stateName(r.State), Protect: protectName(r.Protect, " | "),
		Usage: r.UsageName(), Detail: r.Detail, CapturedBytes: r.Captured, Captured: r.State != dump.MemFree && r.Captured == r.Size, Derived: r.Derived}
}

type regionList struct {
	ptrSize int
	marker  bool
	Derived bool        `json:"derived"`
	Note    string      `json:"note,omitempty"`
	Regions []RegionRow `json:"regions"`
}

func (l *regionList) MarshalJSON() ([]byte, error) {
	type plain regionList
	if l.Regions == nil {
		l.Regions = []RegionRow{}
	}
	return json.Marshal((*plain)(l))
}

const derivedNote = "Regions are derived from the captured memory, modules and thread stacks: the dump has no MemoryInfoList.\n"

func (l *regionList) WriteText(w io.Writer) {
	fmt.Fprintln(w)
	if l.Derived {
		fmt.Fprint(w, derivedNote+"\n")
	}
	if l.Note != "" {
		fmt.Fprint(w, l.Note+"\n\n")
	}
	if l.ptrSize == 8 {
		fmt.Fprintln(w, "        BaseAddress      EndAddress+1        RegionSize     Type       State                 Protect             Usage")
		fmt.Fprintln(w, strings.Repeat("-", 122))
	} else {
		fmt.Fprintln(w, "  BaseAddr EndAddr+1 RgnSize     Type       State                 Protect             Usage")
		fmt.Fprintln(w, strings.Repeat("-", 95))
	}
	width := 18
	if l.ptrSize == 4 {
		width = 9
	}
	for _, r := range l.Regions {
		mark := " "
		if l.marker && (r.Base == r.AllocationBase || r.State == "MEM_FREE") {
			mark = "+"
		}
		detail := ""
		if r.Detail != "" {
			detail = "[" + r.Detail + "]"
		}
		fmt.Fprintf(w, "%s%*s%*s%*s %-11s %-11s %-34s %-10s %s\n", mark,
			width, FormatShortAddr(l.ptrSize, r.Base), width, FormatShortAddr(l.ptrSize, r.End),
			width, FormatShortAddr(l.ptrSize, r.Size), r.Type, r.State, r.Protect, r.Usage, detail)
	}
	fmt.Fprintln(w)
}

// SummaryRow is one row of a !address -summary table.
type SummaryRow struct {
	Name       string  `json:"name"`
	Count      int     `json:"count"`
	Size       uint64  `json:"size"`
	PctBusy    float64 `json:"pct_busy"`
	PctTotal   float64 `json:"pct_total"`
	Free       bool    `json:"-"`
	LargestAt  uint64  `json:"largest_base"`
	LargestLen uint64  `json:"largest_size"`
}

// AddressSummary is the result of !address -summary.
type AddressSummary struct {
	ptrSize int
	Derived bool         `json:"derived"`
	Busy    uint64       `json:"busy_bytes"`
	Total   uint64       `json:"total_bytes"`
	Usage   []SummaryRow `json:"usage"`
	Type    []SummaryRow `json:"type"`
	State   []SummaryRow `json:"state"`
	Protect []SummaryRow `json:"protect"`
}

func summarize(s *Session, regions []dump.Region, filter *regionFilter) *AddressSummary {
	sum := &AddressSummary{ptrSize: s.PointerSize(), Derived: !s.Target.HasMemoryInfo}
	type acc struct {
		row   *SummaryRow
		order int
	}
	groups := map[string]map[string]*SummaryRow{"usage": {}, "type": {}, "state": {}, "protect": {}}
	add := func(group, name string, r *dump.Region) {
		if name == "" {
			return
		}
		row, ok := groups[group][name]
		if !ok {
			row = &SummaryRow{Name: name, Free: r.State == dump.MemFree}
			groups[group][name] = row
		}
		row.Count++
		row.Size += r.Size
		if r.Size > row.LargestLen {
			row.LargestAt, row.LargestLen = r.Base, r.Size
		}
	}
	for i := range regions {
		r := &regions[i]
		if !filter.match(r) {
			continue
		}
		sum.Total += r.Size
		if r.State != dump.MemFree {
			sum.Busy += r.Size
		}
		add("usage", r.UsageName(), r)
		add("state", stateName(r.State), r)
		if r.State != dump.MemFree {
			t := typeName(r.Type)
			if t == "" {
				t = "<unknown>"
			}
			add("type", t, r)
		}
		if r.State == dump.MemCommit {
			add("protect", protectName(r.Protect, "|"), r)
		}
	}
	rows := func(group string) []SummaryRow {
		var out []SummaryRow
		for _, r := range groups[group] {
			if sum.Total > 0 {
				r.PctTotal = 100 * float64(r.Size) / float64(sum.Total)
			}
			if !r.Free && sum.Busy > 0 {
				r.PctBusy = 100 * float64(r.Size) / float64(sum.Busy)
			}
			out = append(out, *r)
		}
		sort.SliceStable(out, func(i, j int) bool {
			if out[i].Size != out[j].Size {
				return out[i].Size > out[j].Size
			}
			return out[i].Name < out[j].Name
		})
		return out
	}
	sum.Usage, sum.Type, sum.State, sum.Protect = rows("usage"), rows("type"), rows("state"), rows("protect")
	return sum
}

func (a *AddressSummary) WriteText(w io.Writer) {
	fmt.Fprintln(w)
	if a.Derived {
		fmt.Fprint(w, derivedNote+"\n")
	}
	table := func(header string, rows []SummaryRow) {
		fmt.Fprintln(w, header)
		for _, r := range rows {
			busy := ""
			if !r.Free {
				busy = fmt.Sprintf("%.2f%%", r.PctBusy)
			}
			fmt.Fprintf(w, "%s%*d%18s (%s)%8s%9s\n", r.Name, max(1, 43-len(r.Name)), r.Count,
				FormatShortAddr(a.ptrSize, r.Size), HumanSize(r.Size), busy, fmt.Sprintf("%.2f%%", r.PctTotal))
		}
		fmt.Fprintln(w)
	}
	table("--- Usage Summary ---------------- RgnCount ----------- Total Size -------- %ofBusy %ofTotal", a.Usage)
	table("--- Type Summary (for busy) ------ RgnCount ----------- Total Size -------- %ofBusy %ofTotal", a.Type)
	table("--- State Summary ---------------- RgnCount ----------- Total Size -------- %ofBusy %ofTotal", a.State)
	table("--- Protect Summary (for commit) - RgnCount ----------- Total Size -------- %ofBusy %ofTotal", a.Protect)
	fmt.Fprintln(w, "--- Largest Region by Usage ----------- Base Address -------- Region Size ----------")
	for _, r := range a.Usage {
		fmt.Fprintf(w, "%s%*s%18s (%s)\n", r.Name, max(1, 52-len(r.Name)), FormatShortAddr(a.ptrSize, r.LargestAt),
			FormatShortAddr(a.ptrSize, r.LargestLen), HumanSize(r.LargestLen))
	}
	fmt.Fprintln(w)
}

// RegionDetail is the result of !address ADDR.
type RegionDetail struct {
	ptrSize  int
	Address  uint64    `json:"address"`
	Region   RegionRow `json:"region"`
	raw      dump.Region
	MoreInfo []string `json:"more_info,omitempty"`
	Image    *struct {
		Path   string `json:"path"`
		Module string `json:"module"`
	} `json:"image,omitempty"`
}

func addressDetail(s *Session, addr uint64) (Result, error) {
	r, ok := regionAt(addressRegions(s), addr)
	if !ok {
		return nil, fmt.Errorf("Address %s is not in the user-mode address space of this dump", s.Addr(addr))
	}
	d := &RegionDetail{ptrSize: s.PointerSize(), Address: addr, Region: regionRow(r), raw: *r}
	switch r.Usage {
	case dump.UsageStack:
		d.MoreInfo = append(d.MoreInfo, fmt.Sprintf("~%dk", r.Thread))
	case dump.UsageImage:
		if m := r.Module; m != nil {
			d.Image = &struct {
				Path   string `json:"path"`
				Module string `json:"module"`
			}{m.Name, m.ModuleName()}
			d.MoreInfo = append(d.MoreInfo, "lmv m "+m.ModuleName(), "!lmi "+m.ModuleName(),
				fmt.Sprintf("ln 0x%x", addr), fmt.Sprintf("!dh 0x%x", m.Base))
		}
	case dump.UsageHeap:
		d.MoreInfo = append(d.MoreInfo, heapMoreInfo(r, addr)...)
	case dump.UsageTEB:
		d.MoreInfo = append(d.MoreInfo, fmt.Sprintf("~%ds; !teb", r.Thread))
	case dump.UsagePEB:
		d.MoreInfo = append(d.MoreInfo, "!peb")
	}
	return d, nil
}

func (d *RegionDetail) WriteText(w io.Writer) {
	p := d.ptrSize
	line := func(label, value string) { fmt.Fprintf(w, "%-24s%s\n", label+":", value) }
	fmt.Fprintln(w)
	if d.Region.Derived {
		fmt.Fprint(w, derivedNote+"\n")
	}
	line("Usage", d.Region.Usage)
	line("Base Address", FormatAddr(p, d.Region.Base))
	line("End Address", FormatAddr(p, d.Region.End))
	line("Region Size", fmt.Sprintf("%s (%s)", FormatAddr(p, d.Region.Size), HumanSize(d.Region.Size)))
	line("State", fmt.Sprintf("%08x          %s", d.raw.State, d.Region.State))
	if d.raw.State == dump.MemFree {
		// UNCONFIRMED for WinDbg: a free region has no Type or allocation.
		line("Protect", fmt.Sprintf("%08x          %s", uint32(dump.PageNoAccess), "PAGE_NOACCESS"))
	} else {
		if d.raw.Protect != 0 {
			line("Protect", fmt.Sprintf("%08x          %s", d.raw.Protect, d.Region.Protect))
		}
		if d.raw.Type != 0 {
			line("Type", fmt.Sprintf("%08x          %s", d.raw.Type, d.Region.Type))
		}
		line("Allocation Base", FormatAddr(p, d.Region.AllocationBase))
		if d.raw.AllocationProtect != 0 {
			line("Allocation Protect", fmt.Sprintf("%08x          %s", d.raw.AllocationProtect, protectName(d.raw.AllocationProtect, " | ")))
		}
	}
	if d.Image != nil {
		line("Image Path", d.Image.Path)
		line("Module Name", d.Image.Module)
		line("Loaded Image Name", d.Image.Path)
		line("Mapped Image Name", "")
	}
	for _, m := range d.MoreInfo {
		line("More info", m)
	}
	if d.raw.Usage == dump.UsageUnknown && d.raw.State == dump.MemCommit {
		// "Content source" tells where the bytes come from; for a dump: captured or not.
		fmt.Fprintln(w)
		fmt.Fprintln(w)
		if d.raw.Captured > 0 {
			fmt.Fprintf(w, "Content source: 1 (target), length: %x\n", d.Region.End-d.Address)
		} else {
			fmt.Fprintf(w, "Content source: 0 (invalid), length: %x\n", d.Region.End-d.Address)
		}
	}
	fmt.Fprintln(w)
}
