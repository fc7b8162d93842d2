package commands

import (
	"fmt"
	"io"
	"sort"
	"strings"

	"wdb/dump"
)

// !handle: the handles a dump written with handle data (.dump /mh,
// MiniDumpWithHandleData) recorded, in the layout of the user-mode
// extension: "Handle N" blocks, then a count by type.

func init() {
	Register(&Command{
		Name:    "!handle",
		Usage:   "!handle [Handle [UMFlags [TypeName]]]",
		Summary: "display the handles recorded in the dump",
		Help: "!handle               every handle with its type, then the count of handles by type\n" +
			"!handle 0 f           every handle with all details (0 or -1: all handles)\n" +
			"!handle 4c f          one handle\n" +
			"!handle 0 f Event     only handles of one type (case-sensitive, as WinDbg)\n" +
			"UMFlags: 1 type, 2 attributes/access/counts, 4 name, 8 object-specific information.",
		Run: runHandle,
	})
}

// Flag bits of !handle (GHI_* of the extension).
const (
	handleType     = 1
	handleBasic    = 2
	handleName     = 4
	handleSpecific = 8
)

// HandleRow is one handle with the details its flags asked for.
type HandleRow struct {
	Handle        uint64   `json:"handle"`
	Type          string   `json:"type"`
	Name          string   `json:"name,omitempty"`
	Attributes    uint32   `json:"attributes"`
	GrantedAccess uint32   `json:"grantedAccess"`
	AccessNames   []string `json:"accessNames"` // the two lines of decoded rights
	HandleCount   uint32   `json:"handleCount"`
	PointerCount  uint32   `json:"pointerCount"`
}

// HandleCount is one line of the count by type.
type HandleCount struct {
	Type  string `json:"type"`
	Count int    `json:"count"`
}

// HandleList is the result of !handle.
type HandleList struct {
	Flags   int           `json:"flags"`
	All     bool          `json:"all"`
	Handles []HandleRow   `json:"handles"`
	Total   int           `json:"total,omitempty"`
	ByType  []HandleCount `json:"byType,omitempty"`
	// Missing is a handle asked for that the dump does not hold.
	Missing *uint64 `json:"missing,omitempty"`
}

// WriteText prints the blocks with the extension's tab-separated labels.
func (l *HandleList) WriteText(w io.Writer) {
	for _, h := range l.Handles {
		fmt.Fprintf(w, "Handle %x\n", h.Handle)
		if l.Flags&handleType != 0 {
			fmt.Fprintf(w, "  Type         \t%s\n", h.Type)
		}
		if l.Flags&handleBasic != 0 {
			fmt.Fprintf(w, "  Attributes   \t%s\n", cHex(uint64(h.Attributes)))
			fmt.Fprintf(w, "  GrantedAccess\t%s:\n", cHex(uint64(h.GrantedAccess)))
			for _, a := range h.AccessNames {
				fmt.Fprintf(w, "         %s\n", a)
			}
			fmt.Fprintf(w, "  HandleCount  \t%d\n", h.HandleCount)
			fmt.Fprintf(w, "  PointerCount \t%d\n", h.PointerCount)
		}
		if l.Flags&handleName != 0 && h.Type != "File" {
			name := h.Name
			if name == "" {
				name = "<none>"
			}
			fmt.Fprintf(w, "  Name         \t%s\n", name)
		}
		if l.Flags&handleSpecific != 0 {
			fmt.Fprintf(w, "  No Object Specific Information available\n")
		}
	}
	if l.Missing != nil {
		fmt.Fprintf(w, "Handle %x\n", *l.Missing)
		fmt.Fprintf(w, "unable to query object information\n")
	}
	if l.All {
		fmt.Fprintf(w, "%d Handles\n", l.Total)
		fmt.Fprintf(w, "Type           \tCount\n")
		for _, c := range l.ByType {
			fmt.Fprintf(w, "%-15s\t%d\n", c.Type, c.Count)
		}
	}
}

// cHex is C's %#x: "0" for zero, else 0x-prefixed.
func cHex(v uint64) string {
	if v == 0 {
		return "0"
	}
	return fmt.Sprintf("%#x", v)
}

// Access right names, bit by bit (the extension's tables).
var (
	standardRights = []string{"Delete", "ReadControl", "WriteDac", "WriteOwner",
		"Synch", "", "", "",
		"Sacl", "MaxAllowed", "", "",
		"GenericAll", "GenericExec", "GenericWrite", "GenericRead"}
	specificRights = map[string][]string{
		"Event":         {"QueryState", "ModifyState"},
		"Section":       {"Query", "MapWrite", "MapRead", "MapExecute", "Extend"},
		"File":          {"Read/List", "Write/Add", "Append/SubDir/CreatePipe", "ReadEA", "WriteEA", "Execute/Traverse", "DelChild", "ReadAttr", "WriteAttr"},
		"Port":          {"Connect"},
		"Directory":     {"Query", "Traverse", "Create", "CreateSubdir"},
		"SymbolicLink":  {"Query"},
		"Mutant":        {"QueryState"},
		"WindowStation": {"EnumDesktops", "ReadAttr", "Clipboard", "CreateDesktop", "WriteAttr", "GlobalAtom", "ExitWindows", "", "Enumerate", "ReadScreen"},
		"Semaphore":     {"QueryState", "ModifyState"},
		"Key":           {"QueryValue", "SetValue", "CreateSubKey", "EnumSubKey", "Notify", "CreateLink"},
		"Token":         {"AssignPrimary", "Duplicate", "Impersonate", "Query", "QuerySource", "AdjustPriv", "AdjustGroup", "AdjustDef"},
		"Process":       {"Terminate", "CreateThread", "", "VMOp", "VMRead", "VMWrite", "DupHandle", "CreateProcess", "SetQuota", "SetInfo", "QueryInfo", "SetPort"},
		"Thread":        {"Terminate", "Suspend", "Alert", "GetContext", "SetContext", "SetInfo", "QueryInfo", "SetToken", "Impersonate", "DirectImpersonate"},
		"Desktop":       {"ReadObjects", "CreateWindow", "CreateMenu", "HookControl", "JournalRecord", "JournalPlayback", "Enumerate", "WriteObjects", "SwitchDesktop"},
		"IoCompletion":  {"Query", "Modify"},
		"Channel":       {"ReadMessage", "WriteMessage", "Query", "SetInfo"},
		"Timer":         {"QueryState", "ModifyState"},
		"Job":           {"AssignProcess", "SetAttr", "Query", "Terminate", "SetSecAttr"},
		"WaitablePort":  {"Connect"},
	}
	// handleTypeOrder is the order of the count by type: the extension's
	// type table, then the types newer Windows versions report.
	handleTypeOrder = []string{"None", "Event", "Section", "File", "Port", "Directory", "SymbolicLink", "Mutant",
		"WindowStation", "Semaphore", "Key", "Token", "Process", "Thread", "Desktop", "IoCompletion", "Channel",
		"Timer", "Job", "WaitablePort", "TpWorkerFactory", "ALPC Port", "WaitCompletionPacket"}
)

// accessNames decodes a GrantedAccess mask as the extension does: the
// standard and generic rights (high 16 bits), then the type's own rights;
// "None" for an empty half. Bits without a name are skipped.
func accessNames(typ string, mask uint32) []string {
	flags := func(v uint32, names []string) string {
		if v == 0 {
			return "None"
		}
		var out []string
		for i, n := range names {
			if v&(1<<i) != 0 && n != "" {
				out = append(out, n)
			}
		}
		return strings.Join(out, ",")
	}
	return []string{flags(mask>>16, standardRights), flags(mask&0xffff, specificRights[typ])}
}

func handleRow(h *dump.Handle) HandleRow {
	typ := h.TypeName
	return HandleRow{Handle: h.Handle, Type: typ, Name: h.ObjectName, Attributes: h.Attributes, GrantedAccess: h.GrantedAccess,
		AccessNames: accessNames(typ, h.GrantedAccess), HandleCount: h.HandleCount, PointerCount: h.PointerCount}
}

func runHandle(s *Session, inv *Invocation) (Result, error) {
	if s.Target == nil {
		return nil, errNoTarget
	}
	f := s.Target
	if !f.HasHandleData {
		return nil, fmt.Errorf("The dump holds no handle information (write it with .dump /mh or MiniDumpWithHandleData)")
	}
	fields := strings.Fields(inv.Args)
	if len(fields) > 3 {
		return nil, fmt.Errorf("Usage: !handle [Handle [UMFlags [TypeName]]]")
	}
	want, all := uint64(0), true
	flags := handleType
	typeFilter := ""
	if len(fields) > 0 {
		v, err := s.Eval(fields[0])
		if err != nil {
			return nil, exprError(s, inv, fields[0], err)
		}
		if v != 0 && v != ^uint64(0) && !(s.PointerSize() == 4 && v == 0xffffffff) {
			want, all = v, false
		}
	}
	if len(fields) > 1 {
		v, err := s.Eval(fields[1])
		if err != nil {
			return nil, exprError(s, inv, fields[1], err)
		}
		flags = int(v & 0xff)
	}
	if len(fields) > 2 {
		typeFilter = fields[2]
	}
	l := &HandleList{Flags: flags, All: all}
	counts := map[string]int{}
	for i := range f.Handles {
		h := &f.Handles[i]
		if !all && h.Handle != want {
			continue
		}
		if typeFilter != "" && h.TypeName != typeFilter {
			continue
		}
		l.Handles = append(l.Handles, handleRow(h))
		typ := h.TypeName
		if typ == "" {
			typ = "None"
		}
		counts[typ]++
	}
	if !all && len(l.Handles) == 0 {
		l.Missing = &want
		return l, nil
	}
	if all {
		l.Total = len(l.Handles)
		done := map[string]bool{}
		for _, t := range handleTypeOrder {
			if counts[t] > 0 {
				l.ByType = append(l.ByType, HandleCount{t, counts[t]})
			}
			done[t] = true
		}
		// Types outside the extension's table (it folds them into None;
		// wdb lists them), by name.
		var rest []string
		for t := range counts {
			if !done[t] {
				rest = append(rest, t)
			}
		}
		sort.Strings(rest)
		for _, t := range rest {
			l.ByType = append(l.ByType, HandleCount{t, counts[t]})
		}
	}
	return l, nil
}
