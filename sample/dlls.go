package sample

import "encoding/binary"

// Windows 10 22H2 (19041 code base) DLL images: bases, sizes, versions and
// section layouts of the real x64 and x86 files; function RVAs are made up
// but placed where such functions sit (syscall stubs together, ...).

var (
	verNtdll  = [4]uint16{10, 0, 19041, 3636}
	verKernel = [4]uint16{10, 0, 19041, 3570}
)

// syscallX64 is an x64 ntdll system call stub; the return address of its
// syscall is stub+0x14.
func syscallX64(service uint32) []byte {
	b := []byte{0x4c, 0x8b, 0xd1, 0xb8} // mov r10,rcx; mov eax,imm32
	b = binary.LittleEndian.AppendUint32(b, service)
	b = append(b, 0xf6, 0x04, 0x25, 0x08, 0x03, 0xfe, 0x7f, 0x01) // test byte ptr [7FFE0308h],1
	b = append(b, 0x75, 0x03, 0x0f, 0x05, 0xc3, 0xcd, 0x2e, 0xc3) // jne; syscall; ret; int 2Eh; ret
	return b
}

// syscallX86 is an x86 ntdll system call stub: "call [edx]" through
// SharedUserData!SystemCallStub, so its return address is stub+0xc.
func syscallX86(service uint32, argBytes uint16) []byte {
	b := []byte{0xb8}
	b = binary.LittleEndian.AppendUint32(b, service)
	b = append(b, 0xba, 0x00, 0x03, 0xfe, 0x7f, 0xff, 0x12, 0xc2, byte(argBytes), byte(argBytes>>8))
	return b
}

// Offsets of the calls the sample's stacks return into.
const (
	x64RetRtlUserThreadStart  = 0x21
	x64RetBaseThreadInitThunk = 0x14
	x64RetTppWorkerThread     = 0x2c6
	x64RetMapViewNt           = 0x3d // NtMapViewOfSection
	x64RetMapViewRaise        = 0x5d // RaiseException
	x64RetRaiseException      = 0x69 // RtlRaiseException: the exception address
	x86RetRtlUserThreadStart  = 0x2f
	x86RetBaseThreadInitThunk = 0x19
	x86RetTppWorkerThread     = 0x2f5
	x86RetMapViewNt           = 0x3a
	x86RetMapViewRaise        = 0x5b
	x86RetRaiseException      = 0x62
	syscallRetX64             = 0x14
	syscallRetX86             = 0x0c
)

// Frame sizes of the synthetic functions on the sample's stacks (bytes
// allocated by the prologue; x64 pushes are listed separately).
const (
	x64FrameRtlUserThreadStart  = 0x78
	x64FrameBaseThreadInitThunk = 0x28
	x64FrameTppWorkerThread     = 0x78 // after pushing rbx, rsi, rdi, r14
	x64FrameMapViewOfFile       = 0x48
	x64FrameRaiseException      = 0xd8
	x86FrameRtlUserThreadStart  = 0x10
	x86FrameBaseThreadInitThunk = 0x0c
	x86FrameTppWorkerThread     = 0x5c
	x86FrameMapViewOfFile       = 0x1c
	x86FrameRaiseException      = 0x50
)

func dllsX64() []*dllSpec {
	sec := func(r ...uint32) []section {
		return []section{
			{".text", r[0], r[1], pageExecuteRead}, {".rdata", r[2], r[3], pageReadOnly},
			{".data", r[4], r[5], pageReadWrite}, {".pdata", r[6], r[7], pageReadOnly}, {".rsrc", r[8], r[9], pageReadOnly},
		}
	}
	frame := func(name string, rva, alloc uint32, calls ...call) fn {
		return fn{name: name, rva: rva, alloc: alloc, calls: calls}
	}
	stub := func(name string, rva, svc uint32) fn { return fn{name: name, rva: rva, raw: syscallX64(svc)} }
	ntdll := &dllSpec{
		name: "ntdll.dll", path: `C:\Windows\System32\ntdll.dll`, base: 0x7ff88b7a0000, size: 0x1f5000,
		stamp: 0x1db0b4a2, version: verNtdll,
		sections: sec(0x1000, 0x11a000, 0x11b000, 0x4d000, 0x168000, 0x10000, 0x178000, 0xe000, 0x186000, 0x6f000),
		funcs: []fn{
			frame("RtlAllocateHeap", 0x3a7c0, 0x58),
			frame("RtlFreeHeap", 0x3c3e0, 0x48),
			{name: "TppWorkerThread", rva: 0x32ea0, push: []int{rbx, rsi, rdi, r14}, alloc: x64FrameTppWorkerThread,
				calls: []call{{ret: x64RetTppWorkerThread, target: "NtWaitForWorkViaWorkerFactory"}}},
			frame("RtlUserThreadStart", 0x5e4f0, x64FrameRtlUserThreadStart,
				call{ret: x64RetRtlUserThreadStart, target: "Kernel32ThreadInitThunkFunction", indirect: true}),
			frame("RtlRaiseException", 0x5f2d0, 0x4f8),
			frame("LdrInitializeThunk", 0x6d560, 0x28),
			{name: "LdrpDispatchUserCallTarget", rva: 0x8c2f0, raw: []byte{0xff, 0xe0}, noExp: true}, // jmp rax
			stub("NtWaitForSingleObject", 0x9d000, 0x04),
			stub("NtClose", 0x9d020, 0x0f),
			stub("NtMapViewOfSection", 0x9d040, 0x28),
			stub("NtUnmapViewOfSection", 0x9d060, 0x2a),
			stub("NtDelayExecution", 0x9d080, 0x34),
			stub("NtCreateSection", 0x9d0a0, 0x4a),
			stub("NtWaitForWorkViaWorkerFactory", 0x9d0c0, 0x1c3),
			frame("KiUserExceptionDispatcher", 0x9f0e0, 0x4f0),
		},
		iat: map[string]string{"Kernel32ThreadInitThunkFunction": "KERNEL32!BaseThreadInitThunk"},
	}
	kernel32 := &dllSpec{
		name: "KERNEL32.DLL", path: `C:\Windows\System32\KERNEL32.DLL`, base: 0x7ff88a3c0000, size: 0xbd000,
		stamp: 0x3b1e6cc2, version: verKernel,
		sections: sec(0x1000, 0x7f000, 0x80000, 0x32000, 0xb2000, 0x2000, 0xb4000, 0x6000, 0xba000, 0x3000),
		funcs: []fn{
			frame("BaseThreadInitThunk", 0x17030, x64FrameBaseThreadInitThunk,
				call{ret: x64RetBaseThreadInitThunk, target: "__guard_dispatch_icall_fptr", indirect: true}),
			{name: "Sleep", rva: 0x1b3a0, jmp: "Sleep"},
			{name: "CloseHandle", rva: 0x1c8f0, jmp: "CloseHandle"},
			{name: "CreateFileMappingW", rva: 0x1ca00, jmp: "CreateFileMappingW"},
			{name: "MapViewOfFile", rva: 0x1d9e0, jmp: "MapViewOfFile"},
			{name: "UnmapViewOfFile", rva: 0x1dc10, jmp: "UnmapViewOfFile"},
			frame("ExitProcess", 0x1e0e0, 0x28),
			// mov rax,gs:[60h]; mov rax,[rax+30h]; ret: PEB.ProcessHeap
			{name: "GetProcessHeap", rva: 0x1f3b0, raw: []byte{0x65, 0x48, 0x8b, 0x04, 0x25, 0x60, 0, 0, 0, 0x48, 0x8b, 0x40, 0x30, 0xc3}},
		},
		forwards: map[string]string{"HeapAlloc": "NTDLL.RtlAllocateHeap", "HeapFree": "NTDLL.RtlFreeHeap"},
		iat: map[string]string{"__guard_dispatch_icall_fptr": "ntdll!LdrpDispatchUserCallTarget",
			"Sleep": "KERNELBASE!Sleep", "CloseHandle": "KERNELBASE!CloseHandle", "CreateFileMappingW": "KERNELBASE!CreateFileMappingW",
			"MapViewOfFile": "KERNELBASE!MapViewOfFile", "UnmapViewOfFile": "KERNELBASE!UnmapViewOfFile"},
	}
	kernelbase := &dllSpec{
		name: "KERNELBASE.dll", path: `C:\Windows\System32\KERNELBASE.dll`, base: 0x7ff888f90000, size: 0x2c8000,
		stamp: 0x8c2d56f1, version: verNtdll,
		sections: sec(0x1000, 0x1a0000, 0x1a1000, 0xd8000, 0x279000, 0x6000, 0x27f000, 0x20000, 0x29f000, 0x29000),
		funcs: []fn{
			// mov rax,gs:[30h]; mov eax,[rax+68h]; ret: TEB.LastErrorValue
			{name: "GetLastError", rva: 0x1c0e0, raw: []byte{0x65, 0x48, 0x8b, 0x04, 0x25, 0x30, 0, 0, 0, 0x8b, 0x40, 0x68, 0xc3}},
			frame("RaiseException", 0x2a6f0, x64FrameRaiseException, call{ret: x64RetRaiseException, target: "ntdll!RtlRaiseException"}),
			frame("SleepEx", 0x36580, 0x58, call{ret: 0x4c, target: "ntdll!NtDelayExecution"}),
			frame("Sleep", 0x36640, 0x28, call{ret: 0x12, target: "SleepEx"}),
			frame("CloseHandle", 0x3b2e0, 0x28, call{ret: 0x1e, target: "ntdll!NtClose"}),
			frame("WaitForSingleObjectEx", 0x3e9d0, 0x88, call{ret: 0x8b, target: "ntdll!NtWaitForSingleObject"}),
			frame("CreateFileMappingW", 0x5e3f0, 0x78, call{ret: 0x9e, target: "ntdll!NtCreateSection"}),
			frame("MapViewOfFile", 0x5f9a0, x64FrameMapViewOfFile,
				call{ret: x64RetMapViewNt, target: "ntdll!NtMapViewOfSection"}, call{ret: x64RetMapViewRaise, target: "RaiseException"}),
			frame("MapViewOfFileEx", 0x5fa40, 0x48, call{ret: 0x3d, target: "ntdll!NtMapViewOfSection"}),
			frame("UnmapViewOfFile", 0x62b10, 0x28, call{ret: 0x1b, target: "ntdll!NtUnmapViewOfSection"}),
		},
	}
	return []*dllSpec{ntdll, kernel32, kernelbase}
}

func dllsX86() []*dllSpec {
	frame := func(name string, rva, alloc, args uint32, calls ...call) fn {
		return fn{name: name, rva: rva, alloc: alloc, args: args, calls: calls}
	}
	stub := func(name string, rva, svc uint32, args uint16) fn {
		return fn{name: name, rva: rva, raw: syscallX86(svc, args)}
	}
	sec := func(r ...uint32) []section {
		return []section{
			{".text", r[0], r[1], pageExecuteRead}, {".rdata", r[2], r[3], pageReadOnly},
			{".data", r[4], r[5], pageReadWrite}, {".rsrc", r[6], r[7], pageReadOnly}, {".reloc", r[8], r[9], pageReadOnly},
		}
	}
	ntdll := &dllSpec{
		name: "ntdll.dll", path: `C:\Windows\System32\ntdll.dll`, base: 0x77c00000, size: 0x19f000,
		stamp: 0x6e4a9a3d, version: verNtdll,
		sections: sec(0x1000, 0x11b000, 0x11c000, 0x2e000, 0x14a000, 0x6000, 0x150000, 0x4b000, 0x19b000, 0x4000),
		funcs: []fn{
			frame("TppWorkerThread", 0x2a5a0, x86FrameTppWorkerThread, 4,
				call{ret: x86RetTppWorkerThread, target: "NtWaitForWorkViaWorkerFactory"}),
			frame("RtlAllocateHeap", 0x3c9d0, 0x2c, 12),
			frame("RtlFreeHeap", 0x3e3b0, 0x1c, 12),
			frame("RtlUserThreadStart", 0x6c1c0, x86FrameRtlUserThreadStart, 0,
				call{ret: x86RetRtlUserThreadStart, target: "Kernel32ThreadInitThunkFunction", indirect: true}),
			frame("RtlRaiseException", 0x6d2c0, 0x2d0, 4),
			frame("LdrInitializeThunk", 0x7a2d0, 0x10, 8),
			frame("_except_handler4", 0x7e3a0, 0x14, 16),
			stub("NtWaitForSingleObject", 0x8d000, 0x0004, 0x0c),
			stub("NtClose", 0x8d010, 0x000f, 0x04),
			stub("NtMapViewOfSection", 0x8d020, 0x0028, 0x28),
			stub("NtUnmapViewOfSection", 0x8d030, 0x002a, 0x08),
			stub("NtDelayExecution", 0x8d040, 0x0034, 0x08),
			stub("NtCreateSection", 0x8d050, 0x004a, 0x1c),
			stub("NtWaitForWorkViaWorkerFactory", 0x8d060, 0x01c3, 0x14),
			// mov edx,esp; sysenter; ret
			{name: "KiFastSystemCall", rva: 0x8e000, raw: []byte{0x8b, 0xd4, 0x0f, 0x34, 0xc3}},
			frame("KiUserExceptionDispatcher", 0x8e0d0, 0x10, 8),
		},
		iat: map[string]string{"Kernel32ThreadInitThunkFunction": "KERNEL32!BaseThreadInitThunk"},
	}
	kernel32 := &dllSpec{
		name: "KERNEL32.DLL", path: `C:\Windows\System32\KERNEL32.DLL`, base: 0x76f60000, size: 0xf0000,
		stamp: 0x2f4a9e6b, version: verKernel,
		sections: sec(0x1000, 0x6f000, 0x70000, 0x70000, 0xe0000, 0x1000, 0xe1000, 0x8000, 0xe9000, 0x7000),
		funcs: []fn{
			frame("BaseThreadInitThunk", 0x1fa10, x86FrameBaseThreadInitThunk, 0,
				call{ret: x86RetBaseThreadInitThunk, reg: true}),
			{name: "Sleep", rva: 0x21e30, jmp: "Sleep"},
			{name: "CloseHandle", rva: 0x22190, jmp: "CloseHandle"},
			{name: "CreateFileMappingW", rva: 0x22310, jmp: "CreateFileMappingW"},
			{name: "MapViewOfFile", rva: 0x22a40, jmp: "MapViewOfFile"},
			{name: "UnmapViewOfFile", rva: 0x22c70, jmp: "UnmapViewOfFile"},
			frame("ExitProcess", 0x23e10, 0x0c, 4),
			// mov eax,fs:[30h]; mov eax,[eax+18h]; ret: PEB.ProcessHeap
			{name: "GetProcessHeap", rva: 0x24a30, raw: []byte{0x64, 0xa1, 0x30, 0, 0, 0, 0x8b, 0x40, 0x18, 0xc3}},
		},
		forwards: map[string]string{"HeapAlloc": "NTDLL.RtlAllocateHeap", "HeapFree": "NTDLL.RtlFreeHeap"},
		iat: map[string]string{"Sleep": "KERNELBASE!Sleep", "CloseHandle": "KERNELBASE!CloseHandle",
			"CreateFileMappingW": "KERNELBASE!CreateFileMappingW", "MapViewOfFile": "KERNELBASE!MapViewOfFile",
			"UnmapViewOfFile": "KERNELBASE!UnmapViewOfFile"},
	}
	kernelbase := &dllSpec{
		name: "KERNELBASE.dll", path: `C:\Windows\System32\KERNELBASE.dll`, base: 0x75c80000, size: 0x1fc000,
		stamp: 0x4ad1f3c7, version: verNtdll,
		sections: sec(0x1000, 0x15f000, 0x160000, 0x7e000, 0x1de000, 0x3000, 0x1e1000, 0x1000, 0x1e2000, 0x1a000),
		funcs: []fn{
			// mov eax,fs:[18h]; mov eax,[eax+34h]; ret: TEB.LastErrorValue
			{name: "GetLastError", rva: 0x10f1e0, raw: []byte{0x64, 0xa1, 0x18, 0, 0, 0, 0x8b, 0x40, 0x34, 0xc3}},
			frame("SleepEx", 0x110e50, 0x3c, 8, call{ret: 0x4a, target: "ntdll!NtDelayExecution"}),
			frame("Sleep", 0x110f30, 0, 4, call{ret: 0x10, target: "SleepEx"}),
			frame("CloseHandle", 0x1132d0, 0x0c, 4, call{ret: 0x1c, target: "ntdll!NtClose"}),
			frame("WaitForSingleObjectEx", 0x116a60, 0x40, 12, call{ret: 0x7a, target: "ntdll!NtWaitForSingleObject"}),
			frame("CreateFileMappingW", 0x11e3e0, 0x34, 24, call{ret: 0x92, target: "ntdll!NtCreateSection"}),
			frame("RaiseException", 0x12a8f0, x86FrameRaiseException, 16, call{ret: x86RetRaiseException, target: "ntdll!RtlRaiseException"}),
			frame("MapViewOfFile", 0xf7c40, x86FrameMapViewOfFile, 20,
				call{ret: x86RetMapViewNt, target: "ntdll!NtMapViewOfSection"}, call{ret: x86RetMapViewRaise, target: "RaiseException"}),
			frame("MapViewOfFileEx", 0xf7cd0, 0x1c, 24, call{ret: 0x3a, target: "ntdll!NtMapViewOfSection"}),
			frame("UnmapViewOfFile", 0xfa6b0, 0x08, 4, call{ret: 0x1c, target: "ntdll!NtUnmapViewOfSection"}),
		},
	}
	return []*dllSpec{ntdll, kernel32, kernelbase}
}
