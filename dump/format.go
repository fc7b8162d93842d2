// Package dump reads Windows user-mode minidumps and models the target they
// describe: system, modules, threads, exception, memory and its regions.
//
// It depends on the standard library only, so that it can be fuzzed and reused
// alone. Opening a dump parses the header, the stream directory and the small
// streams; memory ranges are never read until a command asks for them.
package dump

// Signature is "MDMP" read as a little-endian uint32.
const Signature = 0x504d444d

// StreamType identifies a minidump stream (MINIDUMP_STREAM_TYPE).
type StreamType uint32

// Stream types documented in minidumpapiset.h, plus the Breakpad and Crashpad
// vendor streams found in real dumps.
const (
	StreamUnused              StreamType = 0
	StreamThreadList          StreamType = 3
	StreamModuleList          StreamType = 4
	StreamMemoryList          StreamType = 5
	StreamException           StreamType = 6
	StreamSystemInfo          StreamType = 7
	StreamThreadExList        StreamType = 8
	StreamMemory64List        StreamType = 9
	StreamCommentA            StreamType = 10
	StreamCommentW            StreamType = 11
	StreamHandleData          StreamType = 12
	StreamFunctionTable       StreamType = 13
	StreamUnloadedModuleList  StreamType = 14
	StreamMiscInfo            StreamType = 15
	StreamMemoryInfoList      StreamType = 16
	StreamThreadInfoList      StreamType = 17
	StreamHandleOperationList StreamType = 18
	StreamToken               StreamType = 19
	StreamJavaScriptData      StreamType = 20
	StreamSystemMemoryInfo    StreamType = 21
	StreamProcessVmCounters   StreamType = 22
	StreamIptTrace            StreamType = 23
	StreamThreadNames         StreamType = 24

	StreamBreakpadInfo          StreamType = 0x47670001
	StreamBreakpadAssertionInfo StreamType = 0x47670002
	StreamLinuxCPUInfo          StreamType = 0x47670003
	StreamLinuxProcStatus       StreamType = 0x47670004
	StreamLinuxLsbRelease       StreamType = 0x47670005
	StreamLinuxCmdLine          StreamType = 0x47670006
	StreamLinuxEnviron          StreamType = 0x47670007
	StreamLinuxAuxv             StreamType = 0x47670008
	StreamLinuxMaps             StreamType = 0x47670009
	StreamLinuxDSODebug         StreamType = 0x4767000a
	StreamCrashpadInfo          StreamType = 0x43500001
)

var streamNames = map[StreamType]string{
	StreamUnused:                "UnusedStream",
	1:                           "ReservedStream0",
	2:                           "ReservedStream1",
	StreamThreadList:            "ThreadListStream",
	StreamModuleList:            "ModuleListStream",
	StreamMemoryList:            "MemoryListStream",
	StreamException:             "ExceptionStream",
	StreamSystemInfo:            "SystemInfoStream",
	StreamThreadExList:          "ThreadExListStream",
	StreamMemory64List:          "Memory64ListStream",
	StreamCommentA:              "CommentStreamA",
	StreamCommentW:              "CommentStreamW",
	StreamHandleData:            "HandleDataStream",
	StreamFunctionTable:         "FunctionTableStream",
	StreamUnloadedModuleList:    "UnloadedModuleListStream",
	StreamMiscInfo:              "MiscInfoStream",
	StreamMemoryInfoList:        "MemoryInfoListStream",
	StreamThreadInfoList:        "ThreadInfoListStream",
	StreamHandleOperationList:   "HandleOperationListStream",
	StreamToken:                 "TokenStream",
	StreamJavaScriptData:        "JavaScriptDataStream",
	StreamSystemMemoryInfo:      "SystemMemoryInfoStream",
	StreamProcessVmCounters:     "ProcessVmCountersStream",
	StreamIptTrace:              "IptTraceStream",
	StreamThreadNames:           "ThreadNamesStream",
	StreamBreakpadInfo:          "BreakpadInfoStream",
	StreamBreakpadAssertionInfo: "BreakpadAssertionInfoStream",
	StreamLinuxCPUInfo:          "LinuxCpuInfoStream",
	StreamLinuxProcStatus:       "LinuxProcStatusStream",
	StreamLinuxLsbRelease:       "LinuxLsbReleaseStream",
	StreamLinuxCmdLine:          "LinuxCmdLineStream",
	StreamLinuxEnviron:          "LinuxEnvironStream",
	StreamLinuxAuxv:             "LinuxAuxvStream",
	StreamLinuxMaps:             "LinuxMapsStream",
	StreamLinuxDSODebug:         "LinuxDsoDebugStream",
	StreamCrashpadInfo:          "CrashpadInfoStream",
}

// String names the stream as minidumpapiset.h does, or gives its number.
func (t StreamType) String() string {
	if s, ok := streamNames[t]; ok {
		return s
	}
	return "Stream0x" + hex32(uint32(t))
}

// Processor architectures (MINIDUMP_SYSTEM_INFO.ProcessorArchitecture).
const (
	ProcessorX86   = 0
	ProcessorARM   = 5
	ProcessorIA64  = 6
	ProcessorAMD64 = 9
	ProcessorARM64 = 12
)

// Arch is the instruction set of the target process.
type Arch int

const (
	ArchUnknown Arch = iota
	ArchX86
	ArchAMD64
	ArchARM
	ArchARM64
)

func (a Arch) String() string {
	switch a {
	case ArchX86:
		return "x86"
	case ArchAMD64:
		return "x64"
	case ArchARM:
		return "arm"
	case ArchARM64:
		return "arm64"
	}
	return "unknown"
}

// PointerSize is 4 or 8 bytes.
func (a Arch) PointerSize() int {
	if a == ArchX86 || a == ArchARM {
		return 4
	}
	return 8
}

// Memory states, types and protections (VirtualQuery's MEMORY_BASIC_INFORMATION).
const (
	MemCommit  = 0x1000
	MemReserve = 0x2000
	MemFree    = 0x10000

	MemPrivate = 0x20000
	MemMapped  = 0x40000
	MemImage   = 0x1000000

	PageNoAccess         = 0x01
	PageReadOnly         = 0x02
	PageReadWrite        = 0x04
	PageWriteCopy        = 0x08
	PageExecute          = 0x10
	PageExecuteRead      = 0x20
	PageExecuteReadWrite = 0x40
	PageExecuteWriteCopy = 0x80
	PageGuard            = 0x100
	PageNoCache          = 0x200
	PageWriteCombine     = 0x400
)

// MiniDump type flags (MINIDUMP_HEADER.Flags) that change how a dump is presented.
const (
	FlagWithDataSegs             = 0x00000001
	FlagWithFullMemory           = 0x00000002
	FlagWithHandleData           = 0x00000004
	FlagWithUnloadedModules      = 0x00000020
	FlagWithFullMemoryInfo       = 0x00000800
	FlagWithThreadInfo           = 0x00001000
	FlagWithTokenInformation     = 0x00040000
	FlagWithIndirectlyReferenced = 0x00000040
)

// Context flags (CONTEXT.ContextFlags) select which parts of a CONTEXT are valid.
const (
	ContextX86   = 0x00010000
	ContextAMD64 = 0x00100000
)

// Sizes of the fixed records this package decodes.
const (
	headerSize            = 32
	directoryEntrySize    = 12
	moduleRecordSize      = 108
	threadRecordSize      = 48
	threadExRecordSize    = 64
	memoryDescriptorSize  = 16
	memory64DescSize      = 16
	memoryInfoSize        = 48
	unloadedModuleSize    = 24
	threadInfoSize        = 64
	threadNameSize        = 12
	exceptionStreamSize   = 168
	systemInfoSize        = 56
	contextX86Size        = 716
	contextAMD64Size      = 1232
	handleDescriptorSize  = 32
	handleDescriptor2Size = 40
)

const hexDigits = "0123456789abcdef"

func hex32(v uint32) string {
	var b [8]byte
	for i := 7; i >= 0; i-- {
		b[i] = hexDigits[v&0xf]
		v >>= 4
	}
	return string(b[:])
}
