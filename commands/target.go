package commands

import (
	"fmt"
	"io"
	"regexp"
	"strings"
	"time"

	"wdb/dump"
)

// Target information: vertarget, version and .time (windbg-commands.md §18).
// The OS block is the one the dump banner prints too (§1.5), so it is built
// by VertargetInfo for whoever prints the banner.

func init() {
	Register(&Command{Name: "vertarget", Usage: "vertarget", Summary: "show target computer version",
		Run: func(s *Session, inv *Invocation) (Result, error) {
			if s.Target == nil {
				return nil, errNoTarget
			}
			return VertargetInfo(s.Target), nil
		}})
	Register(&Command{Name: "version", Usage: "version", Summary: "show debuggee and debugger version",
		Run: func(s *Session, inv *Invocation) (Result, error) {
			v := &VersionInfo{Debugger: "wdb", Version: DebuggerVersion}
			if s.Target != nil {
				v.Target = VertargetInfo(s.Target)
				v.DumpKind, v.DumpPath = DumpKind(s.Target), s.Target.Path
			}
			return v, nil
		}})
	Register(&Command{Name: ".time", Usage: ".time", Summary: "displays session time information",
		Run: func(s *Session, inv *Invocation) (Result, error) {
			if s.Target == nil {
				return nil, errNoTarget
			}
			if a := strings.TrimSpace(inv.Args); a != "" {
				// .time -h <hours> shifts the zone in WinDbg; wdb shows the dump's zone.
				return nil, fmt.Errorf("Syntax error at '%s': .time takes no arguments in wdb", a)
			}
			return sessionTimes(s.Target), nil
		}})
}

// DebuggerVersion is wdb's version, printed by "version"; the build may set
// it with -ldflags "-X wdb/commands.DebuggerVersion=…".
var DebuggerVersion = "0.1.0-dev"

// TimeInfo is the .time block: when the dump was written and how long the
// process had run. Durations are in milliseconds; nil when not recorded.
type TimeInfo struct {
	SessionTime   time.Time `json:"sessionTime"`
	UTCOffsetMin  int       `json:"utcOffsetMinutes"`
	ZoneKnown     bool      `json:"zoneKnown"`
	SystemUptime  *int64    `json:"systemUptimeMs"` // minidumps do not record it
	ProcessUptime *int64    `json:"processUptimeMs"`
	KernelTime    *int64    `json:"kernelTimeMs"`
	UserTime      *int64    `json:"userTimeMs"`
}

// lines are the .time lines (also the tail of vertarget).
func (t *TimeInfo) lines() []string {
	local := t.SessionTime.Add(time.Duration(t.UTCOffsetMin) * time.Minute)
	out := []string{"Debug session time: " + local.Format("Mon Jan _2 15:04:05.000 2006") + " (" + utcOffset(t.UTCOffsetMin) + ")"}
	if t.SystemUptime == nil {
		out = append(out, "System Uptime: not available")
	} else {
		out = append(out, "System Uptime: "+durationText(*t.SystemUptime))
	}
	if t.ProcessUptime == nil {
		out = append(out, "Process Uptime: not available")
	} else {
		out = append(out, "Process Uptime: "+durationText(*t.ProcessUptime))
	}
	if t.KernelTime != nil && t.UserTime != nil {
		out = append(out, "  Kernel time: "+durationText(*t.KernelTime), "  User time: "+durationText(*t.UserTime))
	}
	return out
}

// WriteText prints the .time block.
func (t *TimeInfo) WriteText(w io.Writer) {
	for _, l := range t.lines() {
		fmt.Fprintln(w, l)
	}
}

// sessionTimes reads the times of a dump. The session time is shown in the
// dump machine's zone from MINIDUMP_MISC_INFO_3 (WinDbg uses its own
// machine's zone — wdb prefers output that does not depend on the reader);
// without a recorded zone it is UTC. Kernel/User time lines are left out
// when the dump has no process times (UNCONFIRMED, §18.2).
func sessionTimes(f *dump.File) *TimeInfo {
	t := &TimeInfo{SessionTime: f.Header.Time()}
	if f.Misc != nil && f.Misc.TimeZoneValid {
		t.UTCOffsetMin, t.ZoneKnown = -int(f.Misc.EffectiveBias()), true
	}
	if start, ok := f.ProcessCreateTime(); ok {
		ms := t.SessionTime.Sub(start).Milliseconds()
		if ms < 0 {
			ms = 0
		}
		t.ProcessUptime = &ms
	}
	if f.Misc.HasTimes() {
		k, u := int64(f.Misc.ProcessKernelTime)*1000, int64(f.Misc.ProcessUserTime)*1000
		t.KernelTime, t.UserTime = &k, &u
	}
	return t
}

// utcOffset prints "UTC + 2:00" / "UTC - 5:00".
func utcOffset(min int) string {
	sign := "+"
	if min < 0 {
		sign, min = "-", -min
	}
	return fmt.Sprintf("UTC %s %d:%02d", sign, min/60, min%60)
}

// durationText prints WinDbg's uptime form: "1 days 17:37:49.480".
func durationText(ms int64) string {
	if ms < 0 {
		ms = 0
	}
	days := ms / 86400000
	ms %= 86400000
	return fmt.Sprintf("%d days %d:%02d:%02d.%03d", days, ms/3600000, ms/60000%60, ms/1000%60, ms%1000)
}

// TargetInfo is the vertarget block: the OS of the dumped machine and the
// session times.
type TargetInfo struct {
	OS          string    `json:"os"` // "Windows 10 Version 22631 MP (8 procs) Free x64"
	Major       uint32    `json:"major"`
	Minor       uint32    `json:"minor"`
	Build       uint32    `json:"build"`
	ServicePack string    `json:"servicePack,omitempty"`
	Processors  int       `json:"processors"`
	Arch        string    `json:"arch"`
	ProductType string    `json:"productType"` // WinNt, LanManNt, Server
	Suites      []string  `json:"suites"`
	BuildLine   string    `json:"buildLine,omitempty"`
	MachineName string    `json:"machineName"`
	Times       *TimeInfo `json:"times"`
}

// Lines are the text lines of the block, for the dump banner.
func (t *TargetInfo) Lines() []string {
	var out []string
	if t.OS != "" {
		out = append(out, t.OS, fmt.Sprintf("Product: %s, suite: %s", t.ProductType, strings.Join(t.Suites, " ")))
	}
	if t.BuildLine != "" {
		out = append(out, t.BuildLine)
	}
	out = append(out, "Machine Name:"+t.MachineName)
	return append(out, t.Times.lines()...)
}

// WriteText prints the vertarget block.
func (t *TargetInfo) WriteText(w io.Writer) {
	for _, l := range t.Lines() {
		fmt.Fprintln(w, l)
	}
}

// VertargetInfo describes the dumped system as vertarget prints it.
func VertargetInfo(f *dump.File) *TargetInfo {
	t := &TargetInfo{Times: sessionTimes(f), Suites: []string{}}
	if si := f.System; si != nil {
		t.Major, t.Minor, t.Build = si.MajorVersion, si.MinorVersion, si.BuildNumber
		t.Processors = int(si.NumberOfProcessors)
		line := windowsName(si.MajorVersion, si.MinorVersion) + fmt.Sprintf(" Version %d", si.BuildNumber)
		// Only a real service pack is shown in parentheses; Crashpad stores
		// the build revision ("4751") in the same field (UNCONFIRMED how
		// WinDbg shows that).
		if strings.HasPrefix(si.CSDVersion, "Service Pack") {
			t.ServicePack = si.CSDVersion
			line += " (" + si.CSDVersion + ")"
		}
		if si.NumberOfProcessors > 1 {
			line += fmt.Sprintf(" MP (%d procs)", si.NumberOfProcessors)
		} else {
			line += " UP"
		}
		t.Arch = archName(f.Arch())
		t.OS = line + " Free " + t.Arch
		switch si.ProductType {
		case 1:
			t.ProductType = "WinNt"
		case 2:
			t.ProductType = "LanManNt"
		case 3:
			t.ProductType = "Server"
		default:
			t.ProductType = fmt.Sprintf("%d", si.ProductType)
		}
		for _, sb := range suiteNames {
			if si.SuiteMask&sb.bit != 0 {
				t.Suites = append(t.Suites, sb.name)
			}
		}
	}
	t.BuildLine = buildLine(f)
	return t
}

// windowsName is the OS name dbgeng prints for a version; it calls every
// 10.0 build "Windows 10", Windows 11 and Server 2022 included.
func windowsName(major, minor uint32) string {
	switch {
	case major == 10:
		return "Windows 10"
	case major == 6 && minor == 3:
		return "Windows 8.1"
	case major == 6 && minor == 2:
		return "Windows 8"
	case major == 6 && minor == 1:
		return "Windows 7"
	case major == 6 && minor == 0:
		return "Windows Vista"
	case major == 5 && minor == 2:
		return "Windows Server 2003"
	case major == 5 && minor == 1:
		return "Windows XP"
	case major == 5 && minor == 0:
		return "Windows 2000"
	}
	return fmt.Sprintf("Windows NT %d.%d", major, minor)
}

// archName is the architecture word of the OS line.
func archName(a dump.Arch) string {
	switch a {
	case dump.ArchX86:
		return "x86 compatible"
	case dump.ArchAMD64:
		return "x64"
	case dump.ArchARM64:
		return "ARM 64-bit (AArch64)"
	case dump.ArchARM:
		return "ARM (Thumb-2)"
	}
	return "unknown"
}

// suiteNames are the VER_SUITE_* bits in the order WinDbg lists them.
var suiteNames = []struct {
	bit  uint16
	name string
}{
	{0x0001, "SmallBusiness"}, {0x0002, "Enterprise"}, {0x0004, "BackOffice"}, {0x0008, "Communications"},
	{0x0010, "TerminalServer"}, {0x0020, "SmallBusinessRestricted"}, {0x0040, "EmbeddedNT"}, {0x0080, "DataCenter"},
	{0x0100, "SingleUserTS"}, {0x0200, "Personal"}, {0x0400, "Blade"}, {0x0800, "EmbeddedRestricted"},
	{0x1000, "SecurityAppliance"}, {0x2000, "StorageServer"}, {0x4000, "ComputeServer"}, {0x8000, "WHServer"},
}

// fileVersionBuild matches an old-style build string: "6.1.7601.18409 (win7sp1_gdr.140303-2144)".
var fileVersionBuild = regexp.MustCompile(`^\d+\.\d+\.\d+\.\d+ \(`)

// buildLine is the third line of the OS block. Windows 10 dumps carry the
// build lab in MINIDUMP_MISC_INFO_4 ("Edition build lab: 17763.1.amd64fre.rs5_release.180914-1434");
// Windows 7 writers put a file version with its branch there, which WinDbg
// labels "kernel32.dll version:" (§18.1 sample; the label choice by the
// string's shape is UNCONFIRMED). Without a build string, the version of the
// kernel32 module is shown, without the branch that only its resources hold.
func buildLine(f *dump.File) string {
	if f.Misc != nil && f.Misc.BuildString != "" {
		if fileVersionBuild.MatchString(f.Misc.BuildString) {
			return "kernel32.dll version: " + f.Misc.BuildString
		}
		return "Edition build lab: " + f.Misc.BuildString
	}
	for i := range f.Modules {
		m := &f.Modules[i]
		if strings.EqualFold(m.BaseName(), "kernel32.dll") && m.Version.Signature == 0xfeef04bd {
			return "kernel32.dll version: " + m.Version.FileVersion()
		}
	}
	return ""
}

// VersionInfo is the version command: the target block, the dump, and wdb.
type VersionInfo struct {
	Target   *TargetInfo `json:"target,omitempty"`
	DumpKind string      `json:"dumpKind,omitempty"`
	DumpPath string      `json:"dumpPath,omitempty"`
	Debugger string      `json:"debugger"`
	Version  string      `json:"version"`
}

// WriteText prints the target block, the line that says what is being
// debugged (WinDbg prints "Live user mode: <Local>" for a live process; the
// dump form "Full memory user mini dump: <path>", taken from ||, is
// UNCONFIRMED), then wdb's own version where WinDbg names itself.
func (v *VersionInfo) WriteText(w io.Writer) {
	if v.Target != nil {
		v.Target.WriteText(w)
		fmt.Fprintf(w, "%s: %s\n", v.DumpKind, v.DumpPath)
	}
	fmt.Fprintf(w, "wdb (WinDbg-style debugger for Windows minidumps) Version %s\n", v.Version)
}
