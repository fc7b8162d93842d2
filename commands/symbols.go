package commands

import (
	"fmt"
	"io"
	"sort"
	"strings"

	"wdb/symbols"
	"wdb/symbols/symsrv"
)

// Symbol commands: x, ln, .sympath, .symfix, .reload, .exepath, !sym, !lmi.

func init() {
	Register(&Command{Name: "x", Usage: "x [/0|/1|/2] [/a|/A|/n|/N|/z|/Z] [/v] [/f] [/d] module!pattern",
		Summary: "examine symbols",
		Help: `x mod!pat lists the symbols of mod whose names match pat (* ? [] wildcards,
case-insensitive; a leading _ stands for any number of underscores); *!pat
searches every module. Options: /0 addresses only, /1 names only, /2 both,
/a /A by address, /n /N by name, /z /Z by size, /v kind and size, /f /d sizes.
Functions print "(<no parameter info>)", data "= <no type information>":
types arrive with TPI support (dt).`,
		Complete: completeSymbols, Run: runExamine})
	Register(&Command{Name: "ln", Usage: "ln address", Summary: "list nearest symbols", Run: runNearest})
	Register(&Command{Name: ".sympath", Aliases: []string{".sympath+"}, Usage: ".sympath[+] [<dir>[;...]]", Summary: "set symbol search path", WholeLine: true, Run: runSympath})
	Register(&Command{Name: ".symfix", Aliases: []string{".symfix+"}, Usage: ".symfix[+] [<localsym>]", Summary: "fix symbol search path", Run: runSymfix})
	Register(&Command{Name: ".exepath", Aliases: []string{".exepath+"}, Usage: ".exepath[+] [<dir>[;...]]", Summary: "set executable search path", WholeLine: true, Run: runExepath})
	Register(&Command{Name: ".reload", Usage: ".reload [/f] [<module>]", Summary: "reload symbols", Run: runReload})
	Register(&Command{Name: "!sym", Usage: "!sym noisy|quiet", Summary: "show each step of symbol loading (noisy) or not", Run: runSym})
	Register(&Command{Name: "!lmi", Usage: "!lmi module", Summary: "module information: image, CodeView record, symbol status", Run: runLmi})
}

func completeSymbols(s *Session, args string) []string {
	if s.Symbols == nil || !strings.Contains(args, "!") {
		var out []string
		if s.Symbols != nil {
			for _, m := range s.Symbols.Modules() {
				out = append(out, m.Name+"!")
			}
		}
		return out
	}
	var out []string
	for _, sym := range s.Symbols.Match(args + "*") {
		out = append(out, sym.Module+"!"+sym.Name)
		if len(out) > 200 {
			break
		}
	}
	return out
}

// SymbolRow is one symbol as x and ln print it.
type SymbolRow struct {
	Address uint64 `json:"address"`
	Module  string `json:"module"`
	Name    string `json:"name"`
	Size    uint64 `json:"size,omitempty"`
	Kind    string `json:"kind"`
	Code    bool   `json:"code"`
}

func symbolRow(sym symbols.Symbol) SymbolRow {
	kind := "public"
	switch sym.Kind {
	case symbols.KindFunction:
		kind = "function"
	case symbols.KindData:
		kind = "data"
	case symbols.KindExport:
		kind = "export"
	case symbols.KindLabel:
		kind = "label"
	}
	return SymbolRow{Address: sym.Addr, Module: sym.Module, Name: sym.Name, Size: sym.Size, Kind: kind, Code: sym.Code || sym.Kind == symbols.KindExport}
}

// suffix is what follows a symbol name in x and ln: no type information is
// known without TPI, so functions show "(<no parameter info>)" and data
// "= <no type information>", as WinDbg does for public symbols.
func (r SymbolRow) suffix() string {
	if r.Code {
		return " (<no parameter info>)"
	}
	return " = <no type information>"
}

// SymbolList is the result of x.
type SymbolList struct {
	ptrSize int
	show    int // 0 default, 1 /0 address, 2 /1 name, 3 /2 both
	verbose bool
	sizes   bool
	Symbols []SymbolRow `json:"symbols"`
}

func runExamine(s *Session, inv *Invocation) (Result, error) {
	if s.Target == nil {
		return nil, errNoTarget
	}
	args := strings.TrimSpace(inv.Args)
	res := &SymbolList{ptrSize: s.PointerSize(), Symbols: []SymbolRow{}}
	sortBy := ""
	for strings.HasPrefix(args, "/") {
		opt, rest, _ := strings.Cut(args, " ")
		switch opt {
		case "/0":
			res.show = 1
		case "/1":
			res.show = 2
		case "/2":
			res.show = 3
		case "/a", "/A", "/n", "/N", "/z", "/Z":
			sortBy = opt[1:]
		case "/v":
			res.verbose = true
		case "/f", "/d":
			res.sizes = true
		case "/t", "/q", "/p", "/D":
			// no type information yet; names are printed as they are
		default:
			return nil, fmt.Errorf("Unknown option '%s'", opt)
		}
		args = strings.TrimSpace(rest)
	}
	if args == "" || args == "*" {
		return nil, fmt.Errorf("x * lists the locals of the current scope, which needs private symbols and a stack: use x module!pattern")
	}
	for _, sym := range s.Symbols.Match(args) {
		res.Symbols = append(res.Symbols, symbolRow(sym))
	}
	switch sortBy {
	case "a":
		sort.SliceStable(res.Symbols, func(i, j int) bool { return res.Symbols[i].Address < res.Symbols[j].Address })
	case "A":
		sort.SliceStable(res.Symbols, func(i, j int) bool { return res.Symbols[i].Address > res.Symbols[j].Address })
	case "n":
		sort.SliceStable(res.Symbols, func(i, j int) bool { return res.Symbols[i].Name < res.Symbols[j].Name })
	case "N":
		sort.SliceStable(res.Symbols, func(i, j int) bool { return res.Symbols[i].Name > res.Symbols[j].Name })
	case "z":
		sort.SliceStable(res.Symbols, func(i, j int) bool { return res.Symbols[i].Size < res.Symbols[j].Size })
	case "Z":
		sort.SliceStable(res.Symbols, func(i, j int) bool { return res.Symbols[i].Size > res.Symbols[j].Size })
	}
	return res, nil
}

func (l *SymbolList) WriteText(w io.Writer) {
	for _, r := range l.Symbols {
		addr := FormatAddr(l.ptrSize, r.Address)
		name := r.Module + "!" + r.Name
		switch {
		case l.show == 1:
			fmt.Fprintf(w, "%-17s \n", addr)
		case l.show == 2:
			fmt.Fprintln(w, name)
		case l.show == 3:
			fmt.Fprintf(w, "%-17s %s\n", addr, name)
		case l.verbose:
			scope := "pub"
			if r.Kind == "function" || r.Kind == "data" || r.Kind == "label" {
				scope = "prv"
			}
			kind := "global"
			if r.Code {
				kind = "func"
			}
			fmt.Fprintf(w, "%-10s %s %4x %s%s\n", scope+" "+kind, addr, r.Size, name, r.suffix())
		case l.sizes:
			fmt.Fprintf(w, "%-17s %4x %s%s\n", addr, r.Size, name, r.suffix())
		default:
			fmt.Fprintf(w, "%-17s %s%s\n", addr, name, r.suffix())
		}
	}
}

// NearestResult is the result of ln.
type NearestResult struct {
	ptrSize int
	Address uint64      `json:"address"`
	Before  *SymbolRow  `json:"before,omitempty"`
	Offset  uint64      `json:"offset"`
	After   *SymbolRow  `json:"after,omitempty"`
	File    string      `json:"file,omitempty"`
	Line    int         `json:"line,omitempty"`
	Exact   []SymbolRow `json:"exact"`
}

func runNearest(s *Session, inv *Invocation) (Result, error) {
	if s.Target == nil {
		return nil, errNoTarget
	}
	text := strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(inv.Args), "/D"))
	addr := uint64(0)
	if text == "" {
		c := s.Context()
		if c == nil {
			return nil, fmt.Errorf("No current instruction: give an address")
		}
		addr = c.PC()
	} else {
		v, err := s.Eval(text)
		if err != nil {
			return nil, err
		}
		addr = v
	}
	res := &NearestResult{ptrSize: s.PointerSize(), Address: addr, Exact: []SymbolRow{}}
	sym, disp, ok := s.Symbols.Nearest(addr)
	if !ok {
		return res, nil
	}
	row := symbolRow(sym)
	res.Before, res.Offset = &row, disp
	if next, ok := s.Symbols.Next(addr); ok {
		nr := symbolRow(next)
		res.After = &nr
	}
	res.File, res.Line, _ = s.Symbols.LineAt(addr)
	if disp == 0 && sym.Name != "" {
		res.Exact = append(res.Exact, row)
	}
	return res, nil
}

func (n *NearestResult) WriteText(w io.Writer) {
	if n.Before == nil {
		return
	}
	var b strings.Builder
	if n.File != "" {
		fmt.Fprintf(&b, " [%s @ %d] ", n.File, n.Line)
	}
	name := n.Before.Module
	if n.Before.Name != "" {
		name += "!" + n.Before.Name
	}
	if n.Offset != 0 {
		name += fmt.Sprintf("+0x%x", n.Offset)
	}
	fmt.Fprintf(&b, "(%s)   %s", FormatAddr(n.ptrSize, n.Before.Address), name)
	if n.After != nil {
		fmt.Fprintf(&b, "   |  (%s)   %s!%s", FormatAddr(n.ptrSize, n.After.Address), n.After.Module, n.After.Name)
	}
	fmt.Fprintln(w, b.String())
	if len(n.Exact) > 0 {
		fmt.Fprintln(w, "Exact matches:")
		for _, r := range n.Exact {
			fmt.Fprintf(w, "    %s!%s%s\n", r.Module, r.Name, r.suffix())
		}
	}
}

func runSympath(s *Session, inv *Invocation) (Result, error) {
	if s.Symbols == nil {
		return nil, errNoTarget
	}
	args := strings.TrimSpace(inv.Args)
	if args != "" {
		p, err := symsrv.ParsePath(args)
		if err != nil {
			return nil, err
		}
		if strings.HasSuffix(inv.Name, "+") || strings.HasPrefix(args, "+") {
			if strings.HasPrefix(args, "+") {
				if p, err = symsrv.ParsePath(strings.TrimSpace(args[1:])); err != nil {
					return nil, err
				}
			}
			p = s.Symbols.Path().Append(p)
		}
		s.Symbols.SetPath(p)
	}
	return sympathText(s), nil
}

func sympathText(s *Session) Text {
	p := s.Symbols.Path()
	return Lines("Symbol search path is: "+p.String(), "Expanded Symbol search path is: "+p.Expanded(s.Symbols.DefaultCache()))
}

func runSymfix(s *Session, inv *Invocation) (Result, error) {
	if s.Symbols == nil {
		return nil, errNoTarget
	}
	args := strings.TrimSpace(inv.Args)
	appendMode := strings.HasSuffix(inv.Name, "+")
	if strings.HasPrefix(args, "+") {
		appendMode, args = true, strings.TrimSpace(args[1:])
	}
	fix := symsrv.Path{Elements: []symsrv.Element{symsrv.Symfix(strings.Trim(args, `"`))}}
	if appendMode {
		fix = s.Symbols.Path().Append(fix)
	}
	s.Symbols.SetPath(fix)
	return nil, nil
}

func runExepath(s *Session, inv *Invocation) (Result, error) {
	if s.Symbols == nil {
		return nil, errNoTarget
	}
	args := strings.TrimSpace(inv.Args)
	if args != "" {
		dirs := splitSearchPath(strings.TrimPrefix(args, "+"))
		if strings.HasSuffix(inv.Name, "+") || strings.HasPrefix(args, "+") {
			dirs = append(s.Symbols.ImagePath(), dirs...)
		}
		s.Symbols.SetImagePath(dirs)
	}
	return Lines("Executable image search path is: " + strings.Join(s.Symbols.ImagePath(), ";")), nil
}

func runReload(s *Session, inv *Invocation) (Result, error) {
	if s.Symbols == nil {
		return nil, errNoTarget
	}
	force := false
	name := ""
	for _, a := range strings.Fields(inv.Args) {
		switch strings.ToLower(a) {
		case "/f", "/i":
			force = true
		case "/d", "/v", "/w", "/user", "/o":
		default:
			if strings.HasPrefix(a, "/") {
				return nil, fmt.Errorf("Unknown option '%s'", a)
			}
			name = a
		}
	}
	if err := s.Symbols.Reload(name, force); err != nil {
		return nil, err
	}
	if name != "" {
		return nil, nil
	}
	// Like WinDbg: a dot per module, 64 to a line, then the unloaded list.
	var b strings.Builder
	n := len(s.Symbols.Modules())
	for i := 0; i < n; i++ {
		b.WriteByte('.')
		if (i+1)%64 == 0 && i+1 < n {
			b.WriteByte('\n')
		}
	}
	b.WriteByte('\n')
	if u := len(s.Target.UnloadedModules); u > 0 {
		b.WriteString("Loading unloaded module list\n" + strings.Repeat(".", u) + "\n")
	}
	return Text(b.String()), nil
}

func runSym(s *Session, inv *Invocation) (Result, error) {
	if s.Symbols == nil {
		return nil, errNoTarget
	}
	switch strings.ToLower(strings.TrimSpace(inv.Args)) {
	case "noisy":
		s.Symbols.SetNoisy(func(msg string) { fmt.Fprintln(s.Out(), msg) })
		return Lines("noisy mode - symbol prompts on"), nil
	case "quiet":
		s.Symbols.SetNoisy(nil)
		return Lines("quiet mode - symbol prompts on"), nil
	case "":
		if s.Symbols.Noisy() {
			return Lines("noisy mode - symbol prompts on"), nil
		}
		return Lines("quiet mode - symbol prompts on"), nil
	}
	return nil, fmt.Errorf("!sym: use noisy or quiet")
}

// ModuleInfo is the result of !lmi.
type ModuleInfo struct {
	Module     string `json:"module"`
	Base       uint64 `json:"base"`
	Size       uint32 `json:"size"`
	Image      string `json:"image"`
	TimeStamp  uint32 `json:"timestamp"`
	CheckSum   uint32 `json:"checksum"`
	PDB        string `json:"pdb,omitempty"`
	GUID       string `json:"guid,omitempty"`
	Age        uint32 `json:"age,omitempty"`
	Status     string `json:"symbol_status"`
	SymbolFile string `json:"symbol_file,omitempty"`
	Problem    string `json:"problem,omitempty"`
	ptrSize    int
}

func runLmi(s *Session, inv *Invocation) (Result, error) {
	if s.Symbols == nil {
		return nil, errNoTarget
	}
	arg := strings.TrimSpace(inv.Args)
	m, ok := s.Symbols.ModuleByName(arg)
	if !ok {
		v, err := s.Eval(arg)
		if err != nil {
			return nil, fmt.Errorf("%s not found", arg)
		}
		if m, ok = s.Symbols.ModuleAt(v); !ok {
			return nil, fmt.Errorf("%s not found", arg)
		}
	}
	s.Symbols.Load(m)
	info := &ModuleInfo{Module: m.Name, Base: m.Module.Base, Size: m.Module.Size, Image: m.Module.Name, TimeStamp: m.Module.TimeDateStamp,
		CheckSum: m.Module.CheckSum, Status: m.Status().String(), SymbolFile: m.SymbolFile(), Problem: m.Problem(), ptrSize: s.PointerSize()}
	if cv := m.CodeView(); cv != nil {
		info.PDB, info.GUID, info.Age = cv.PDBName, cv.GUIDString(), cv.Age
	}
	return info, nil
}

func (i *ModuleInfo) WriteText(w io.Writer) {
	line := func(label, value string) { fmt.Fprintf(w, "%16s: %s\n", label, value) }
	fmt.Fprintf(w, "Loaded Module Info: [%s] \n", strings.ToLower(i.Module))
	line("Module", i.Module)
	line("Base Address", FormatAddr(i.ptrSize, i.Base))
	line("Image Name", i.Image)
	line("Time Stamp", fmt.Sprintf("%08x", i.TimeStamp))
	line("Size", fmt.Sprintf("%x", i.Size))
	line("CheckSum", fmt.Sprintf("%x", i.CheckSum))
	if i.PDB != "" {
		fmt.Fprintf(w, "%16s: %-10s %-8s %s\n", "Debug Data Dirs", "Type", "Size", "Format")
		line("Pdb", i.PDB)
		line("Guid", "{"+i.GUID+"}")
		line("Age", fmt.Sprintf("%x", i.Age))
	}
	line("Symbol Type", strings.ToUpper(strings.TrimSuffix(i.Status, " symbols")))
	if i.SymbolFile != "" {
		line("Load Report", fmt.Sprintf("%s, %s", i.Status, i.SymbolFile))
	} else if i.Problem != "" {
		line("Load Report", i.Problem)
	}
}
