package sample

import (
	"fmt"
	"sort"

	"wdb/dump/dumpbuild"
)

// message is what CommunicatorObj::Send appends to a view: "MSG:" and the
// app's banner.
const message = "MSG:wdb fixture: leaking memory-mapped views"

// mappingName is the name CMMFSerializer::Open gives the mapping of view i
// (i == len(views) is the failing one).
func (g *gen) mappingName(i int) string { return fmt.Sprintf(`Local\wdb_mmf_%d`, g.viewID(i)) }

func (g *gen) viewID(i int) int {
	if i < len(g.viewPlan) {
		return g.viewPlan[i].id
	}
	return len(g.viewPlan) + 1
}

// viewHandle is the section handle of view i.
func (g *gen) viewHandle(i int) uint64 { return 0x2a0 + 4*uint64(i) }

// writeProcess fills the PEB, KUSER_SHARED_DATA, the loader data, the
// process parameters and the app's globals.
func (g *gen) writeProcess() error {
	h := g.heap
	ptr := uint64(g.ptr)
	ntdll := g.images["ntdll"]
	g.ldrData = ntdll.spec.base + uint64(ntdll.spec.sections[2].rva) + 0x4c0
	params := h.backend["params"]
	type pebOffs struct{ image, ldr, params, heap, nproc, ntgf, nheaps, maxheaps, heaps, major, minor, build, platform, subsys, subsysMajor, heapArray uint64 }
	o := pebOffs{0x10, 0x18, 0x20, 0x30, 0xb8, 0xbc, 0xe8, 0xec, 0xf0, 0x118, 0x11c, 0x120, 0x124, 0x128, 0x12c, 0x800}
	if !g.x64 {
		o = pebOffs{0x08, 0x0c, 0x10, 0x18, 0x64, 0x68, 0x88, 0x8c, 0x90, 0xa4, 0xa8, 0xac, 0xb0, 0xb4, 0xb8, 0x500}
	}
	peb := g.peb
	g.p(peb+o.image, g.app.base)
	g.p(peb+o.ldr, g.ldrData)
	g.p(peb+o.params, params)
	g.p(peb+o.heap, h.handles[0])
	g.u32(peb+o.nproc, 4)
	g.u32(peb+o.nheaps, uint32(len(h.handles)))
	g.u32(peb+o.maxheaps, 16)
	g.p(peb+o.heaps, peb+o.heapArray)
	for i, a := range h.handles {
		g.p(peb+o.heapArray+uint64(i)*ptr, a)
	}
	g.u32(peb+o.major, 10)
	g.u32(peb+o.minor, 0)
	g.u16(peb+o.build, build)
	g.u32(peb+o.platform, 2)
	g.u32(peb+o.subsys, 3)
	g.u32(peb+o.subsysMajor, 6)

	// KUSER_SHARED_DATA.
	k := g.kuser
	g.u32(k+0x260, build)
	g.u32(k+0x264, 1)
	g.u32(k+0x26c, 10)
	g.u32(k+0x270, 0)
	g.bytes(k+0x30, utf16le(`C:\Windows`))
	if !g.x64 {
		g.u32(k+0x300, uint32(g.sym("ntdll!KiFastSystemCall")))
	}

	// The loader's module lists: PebLdr in ntdll's .data, one
	// LDR_DATA_TABLE_ENTRY per module in the process heap.
	type ldrOffs struct{ load, mem, init, dllBase, entry, size, full, base, flags, count, stamp, listLoad, listMem, listInit, length uint64 }
	lo := ldrOffs{0, 0x10, 0x20, 0x30, 0x38, 0x40, 0x48, 0x58, 0x68, 0x6c, 0x80, 0x10, 0x20, 0x30, 0x58}
	entrySize := uint64(0x138)
	if !g.x64 {
		lo = ldrOffs{0, 8, 0x10, 0x18, 0x1c, 0x20, 0x24, 0x2c, 0x34, 0x38, 0x44, 0x0c, 0x14, 0x1c, 0x30}
		entrySize = 0xa8
	}
	type mod struct {
		key, path, file string
		base, entry     uint64
		size, stamp     uint32
	}
	mods := []mod{{"app", `C:\src\wdb\app.exe`, "app.exe", g.app.base, g.app.base + uint64(g.app.appMain), g.app.size, g.app.timestamp}}
	for _, n := range []string{"ntdll", "KERNEL32", "KERNELBASE"} {
		s := g.images[n].spec
		mods = append(mods, mod{n, s.path, s.name, s.base, 0, s.size, s.stamp})
	}
	mods[2].entry = mods[2].base + 0x17030 // KERNEL32's DllMain neighbourhood; never called here
	entries := map[string]uint64{}
	for _, m := range mods {
		e := h.backend["ldr:"+m.key]
		entries[m.key] = e
		g.p(e+lo.dllBase, m.base)
		g.p(e+lo.entry, m.entry)
		g.u32(e+lo.size, m.size)
		used := g.ustr(e+lo.full, e+entrySize, m.path)
		g.ustr(e+lo.base, e+entrySize+used, m.file)
		g.u32(e+lo.flags, 0x000ca2cc)
		g.u16(e+lo.count, 0xffff)
		g.u32(e+lo.stamp, m.stamp)
	}
	link := func(head uint64, off uint64, keys ...string) {
		all := []uint64{head}
		for _, k := range keys {
			all = append(all, entries[k]+off)
		}
		for i, a := range all {
			g.p(a, all[(i+1)%len(all)])
			g.p(a+ptr, all[(i+len(all)-1)%len(all)])
		}
	}
	g.u32(g.ldrData, uint32(lo.length))
	g.at(g.ldrData+4, 1)[0] = 1
	link(g.ldrData+lo.listLoad, lo.load, "app", "ntdll", "KERNEL32", "KERNELBASE")
	link(g.ldrData+lo.listMem, lo.mem, "app", "ntdll", "KERNEL32", "KERNELBASE")
	link(g.ldrData+lo.listInit, lo.init, "ntdll", "KERNELBASE", "KERNEL32")

	// RTL_USER_PROCESS_PARAMETERS and the environment.
	env := h.backend["environment"]
	arch := "AMD64"
	curDir, imagePath, cmdLine, title, desktop, envAt, envSize, size := uint64(0x38), uint64(0x60), uint64(0x70), uint64(0xb0), uint64(0xc0), uint64(0x80), uint64(0x3f0), uint64(0x440)
	if !g.x64 {
		arch = "x86"
		curDir, imagePath, cmdLine, title, desktop, envAt, envSize, size = 0x24, 0x38, 0x40, 0x70, 0x78, 0x48, 0x290, 0x2a0
	}
	total := h.beSize["params"]
	g.u32(params, uint32(total))
	g.u32(params+4, uint32(total))
	g.u32(params+8, 0x6001)
	buf := params + size
	for _, f := range []struct {
		at uint64
		s  string
	}{{curDir, `C:\src\wdb\`}, {imagePath, `C:\src\wdb\app.exe`}, {cmdLine, `"C:\src\wdb\app.exe" --connections 4096`},
		{title, `C:\src\wdb\app.exe`}, {desktop, `Winsta0\Default`}} {
		buf += g.ustr(params+f.at, buf, f.s)
	}
	var block []byte
	for _, v := range []string{`ALLUSERSPROFILE=C:\ProgramData`, "COMPUTERNAME=WDB-SAMPLE", "NUMBER_OF_PROCESSORS=4", "OS=Windows_NT",
		`Path=C:\Windows\system32;C:\Windows;C:\Windows\System32\Wbem`, "PROCESSOR_ARCHITECTURE=" + arch, `SystemRoot=C:\Windows`,
		`TEMP=C:\Users\dev\AppData\Local\Temp`, `TMP=C:\Users\dev\AppData\Local\Temp`, "USERDOMAIN=WDB-SAMPLE", "USERNAME=dev",
		`USERPROFILE=C:\Users\dev`, `windir=C:\Windows`} {
		block = append(block, utf16le(v)...)
		block = append(block, 0, 0)
	}
	block = append(block, 0, 0)
	g.bytes(env, block)
	g.p(params+envAt, env)
	g.p(params+envSize, uint64(len(block)))

	// The app's globals: the first 16 communicators, the view counter.
	n := len(g.viewPlan)
	a := g.app.base
	created := n + 1
	for i := 0; i < min(16, created); i++ {
		g.p(a+uint64(g.app.gCommunicators)+uint64(i)*ptr, h.objects[i])
	}
	g.u32(a+uint64(g.app.gCount), uint32(min(16, created)))
	g.u32(a+uint64(g.app.sOpenViews), uint32(n))
	g.u32(a+uint64(g.app.sNextID), uint32(n+2))
	return nil
}

// writeObjects fills the heap blocks the story is about and the views'
// first pages, and lists the handles.
func (g *gen) writeObjects() error {
	h := g.heap
	ptr := uint64(g.ptr)
	n := len(g.viewPlan)
	t := &g.truth
	holders := make([][]uint64, n)
	hold := func(i int, at uint64) {
		g.p(at, t.Views[i].Base)
		holders[i] = append(holders[i], at)
	}
	// Objects: CommunicatorObj { vfptr; m_serializer; m_buffer; m_viewSize; m_id }.
	objSer, objBuf, objSize, objID := uint64(8), uint64(16), uint64(24), uint64(32)
	if !g.x64 {
		objSer, objBuf, objSize, objID = 8, 12, 16, 24
	}
	for i := 0; i <= n; i++ {
		obj, ser := h.objects[i], h.serializers[i]
		size := uint64(failedX64)
		if !g.x64 {
			size = failedX86
		}
		if i < n {
			size = g.viewPlan[i].size
		}
		g.p(obj, t.CommunicatorVftable)
		g.p(obj+objSer, ser)
		g.u64(obj+objSize, size)
		g.u32(obj+objID, uint32(i))
		// CMMFSerializer { vfptr; m_viewBase; m_viewSize; m_mapping }.
		g.p(ser, t.SerializerVftable)
		g.p(ser+0x18, g.viewHandle(i))
		if i == n {
			continue // MapViewOfFile failed: no view, no size, no buffer
		}
		hold(i, ser+HolderOffset)
		g.u64(ser+0x10, size)
		// MessageBuffer { vfptr; m_base; m_length; m_capacity }.
		buf := h.buffers[i]
		g.p(obj+objBuf, buf)
		g.p(buf, t.BufferVftable)
		hold(i, buf+HolderOffset)
		k := g.viewPlan[i].records
		g.u64(buf+0x10, uint64(k*len(message)))
		g.u64(buf+0x18, size)
		// The view's first page: the messages sent through it.
		for j := 0; j < k; j++ {
			g.bytes(t.Views[i].Base+uint64(j*len(message)), []byte(message))
		}
	}
	// Message records: { seq; view; offset; length; owner; flags; crc }
	// (x86: { seq; flags; view; offset; length; owner; crc }).
	seq := uint64(1000)
	for i := 0; i < n; i++ {
		for j, r := range h.records[i] {
			seq++
			off, length := uint64(j*len(message)), uint64(len(message))
			crc := uint32(seq*0x9e3779b1) ^ uint32(off)
			if g.x64 {
				g.u64(r, seq)
				g.u64(r+0x10, off)
				g.u64(r+0x18, length)
				g.u64(r+0x20, h.objects[i])
				g.u32(r+0x28, 1)
				g.u32(r+0x2c, crc)
			} else {
				g.u32(r, uint32(seq))
				g.u32(r+4, 1)
				g.u32(r+0xc, uint32(off))
				g.u32(r+0x10, uint32(length))
				g.u32(r+0x14, uint32(h.objects[i]))
				g.u32(r+0x18, crc)
			}
			hold(i, r+8)
		}
	}
	// The caches: a list of { base, size } in creation order and a hash
	// table of { id, base }.
	cacheA, cacheB := h.backend["cacheA"], h.backend["cacheB"]
	capB := h.beSize["cacheB"] / (2 * ptr)
	for i := 0; i < n; i++ {
		e := cacheA + uint64(i)*2*ptr
		hold(i, e)
		g.p(e+ptr, g.viewPlan[i].size)
		id := uint64(g.viewPlan[i].id)
		slot := (id * 0x9e3779b1) & (capB - 1)
		for {
			e := cacheB + slot*2*ptr
			if allZero(g.at(e, int(ptr))) {
				g.p(e, id)
				hold(i, e+ptr)
				break
			}
			slot = (slot + 1) & (capB - 1)
		}
	}
	// Unrelated allocations.
	strs := []string{"CommPool", "wdb-sample", "SessionId=1", "ack", "timer", "conn#", "retry", "utf-8", "en-US", "tls"}
	for i, at := range h.noise {
		s := strs[i%len(strs)]
		g.bytes(at, []byte(s)[:min(len(s), int(h.noiseReq[i]))])
	}
	texts := map[string]string{
		"noise:0": "[Communicator]\r\nMaxConnections=4096\r\nViewSize=262144\r\nLargeViewSize=524288\r\n",
		"noise:1": "wdb sample: a process that maps a view per connection and never unmaps it",
		"noise:2": "Local\\wdb_mmf_",
		"noise:3": "C:\\src\\wdb\\app.exe",
		"noise:4": "message queue",
		"noise:5": "ok",
	}
	for k, s := range texts {
		g.bytes(h.backend[k], []byte(s))
	}
	// Truth.
	t.CommunicatorSize = g.app.objSize
	t.SizeBlocks = h.sizeBlocks
	t.Objects = append([]uint64(nil), h.objects[:n]...)
	t.FailedSerializer = h.serializers[n]
	for i := range t.Views {
		v := &t.Views[i]
		sort.Slice(holders[i], func(a, b int) bool { return holders[i][a] < holders[i][b] })
		v.Holders = holders[i]
		v.Object, v.Serializer, v.Buffer = h.objects[i], h.serializers[i], h.buffers[i]
		v.Handle = g.viewHandle(i)
	}
	// Handles: the process's usual ones, then a section per mapping.
	misc := []dumpbuild.Handle{
		{Handle: 0x4, TypeName: "Directory", ObjectName: `\KnownDlls`, GrantedAccess: 0x3},
		{Handle: 0x8, TypeName: "File", ObjectName: `\Device\HarddiskVolume3\src\wdb`, GrantedAccess: 0x100020},
		{Handle: 0xc, TypeName: "Event", GrantedAccess: 0x1f0003},
		{Handle: 0x10, TypeName: "WaitCompletionPacket", GrantedAccess: 0x1},
		{Handle: 0x14, TypeName: "IoCompletion", GrantedAccess: 0x1f0003},
		{Handle: 0x18, TypeName: "TpWorkerFactory", GrantedAccess: 0xf00ff},
		{Handle: 0x1c, TypeName: "IRTimer", GrantedAccess: 0x100002},
		{Handle: 0x20, TypeName: "Key", ObjectName: `\REGISTRY\MACHINE\SYSTEM\ControlSet001\Control\Nls\Sorting\Versions`, GrantedAccess: 0x20019},
		{Handle: 0x24, TypeName: "ALPC Port", GrantedAccess: 0x1f0001},
		{Handle: 0x28, TypeName: "File", ObjectName: `\Device\ConDrv`, GrantedAccess: 0x12019f},
		{Handle: 0x4c, TypeName: "TpWorkerFactory", GrantedAccess: 0xf00ff},
	}
	for i := range misc {
		misc[i].HandleCount, misc[i].PointerCount = 1, 32769
	}
	g.handles = misc
	for i := 0; i <= n; i++ {
		g.handles = append(g.handles, dumpbuild.Handle{Handle: g.viewHandle(i), TypeName: "Section",
			ObjectName: fmt.Sprintf(`\Sessions\1\BaseNamedObjects\wdb_mmf_%d`, g.viewID(i)), GrantedAccess: 0xf001f,
			HandleCount: 1, PointerCount: 2})
	}
	return nil
}
