/* leak.c - wdb test fixture: a real process that leaks memory-mapped views, dumped by
 * Wine's MiniDumpWriteDump.
 *
 * Freestanding C in the MSVC ABI: no CRT, no headers, no SDK. build.sh compiles it with
 * clang --target=x86_64-pc-windows-msvc, links it with lld-link against import libraries
 * made by llvm-dlltool from kernel32.def and dbghelp.def and runs it under Wine. After
 * leaking, leak.exe starts a second copy of itself ("leak.exe dump PID") that writes
 * leak.dmp of the first with dbghelp's MiniDumpWriteDump while the first waits; shrink.py
 * then cuts Wine's ~45 MB full-memory dump down to the fixture (see build.sh).
 *
 * The model is the leak of the walk-through: CMMFSerializer objects (a table of function
 * pointers as first member - a hand-made vftable in .rdata) each map a view of an anonymous
 * file mapping and never unmap it. Each view base is then held in LEAK_HOLDERS places:
 * two fields of the serializer, a message record per send (LEAK_MESSAGES of them, on the
 * process heap), a registry entry on the process heap, a heap-allocated index, and two
 * global arrays in .data (the view cache and the mapping table).
 */

typedef unsigned long long size_t;
typedef unsigned long long u64;
typedef unsigned short wchar_t16;
typedef void *HANDLE;
typedef unsigned long DWORD;
typedef int BOOL;

#define WINAPI __stdcall

__declspec(dllimport) HANDLE WINAPI GetProcessHeap(void);
__declspec(dllimport) void *WINAPI HeapAlloc(HANDLE heap, DWORD flags, size_t bytes);
__declspec(dllimport) HANDLE WINAPI CreateFileMappingW(HANDLE file, void *attributes, DWORD protect,
                                                       DWORD sizeHigh, DWORD sizeLow,
                                                       const wchar_t16 *name);
__declspec(dllimport) void *WINAPI MapViewOfFile(HANDLE mapping, DWORD access, DWORD offsetHigh,
                                                 DWORD offsetLow, size_t bytes);
__declspec(dllimport) HANDLE WINAPI CreateFileW(const wchar_t16 *name, DWORD access, DWORD share,
                                                void *security, DWORD disposition, DWORD flags,
                                                HANDLE templ);
__declspec(dllimport) BOOL WINAPI WriteFile(HANDLE file, const void *buffer, DWORD bytes,
                                            DWORD *written, void *overlapped);
__declspec(dllimport) BOOL WINAPI CloseHandle(HANDLE handle);
__declspec(dllimport) HANDLE WINAPI GetCurrentProcess(void);
__declspec(dllimport) DWORD WINAPI GetCurrentProcessId(void);
__declspec(dllimport) HANDLE WINAPI GetStdHandle(DWORD which);
__declspec(dllimport) __declspec(noreturn) void WINAPI ExitProcess(unsigned code);
__declspec(dllimport) HANDLE WINAPI OpenProcess(DWORD access, BOOL inherit, DWORD pid);
__declspec(dllimport) wchar_t16 *WINAPI GetCommandLineW(void);
__declspec(dllimport) DWORD WINAPI GetModuleFileNameW(HANDLE module, wchar_t16 *name, DWORD size);
__declspec(dllimport) BOOL WINAPI CreateProcessW(const wchar_t16 *app, wchar_t16 *cmdline,
                                                 void *pattr, void *tattr, BOOL inherit,
                                                 DWORD flags, void *env, const wchar_t16 *dir,
                                                 void *startup, void *info);
__declspec(dllimport) DWORD WINAPI WaitForSingleObject(HANDLE handle, DWORD ms);
__declspec(dllimport) BOOL WINAPI GetExitCodeProcess(HANDLE process, DWORD *code);
__declspec(dllimport) BOOL WINAPI MiniDumpWriteDump(HANDLE process, DWORD pid, HANDLE file,
                                                    DWORD type, void *exception, void *user,
                                                    void *callback);

#define INVALID_HANDLE_VALUE ((HANDLE)(long long)-1)
#define PAGE_READWRITE 0x04
#define FILE_MAP_ALL_ACCESS 0xF001F
#define HEAP_ZERO_MEMORY 0x08
#define GENERIC_WRITE 0x40000000
#define CREATE_ALWAYS 2
#define FILE_ATTRIBUTE_NORMAL 0x80
#define STD_OUTPUT_HANDLE ((DWORD)-11)
#define PROCESS_ALL_ACCESS 0x1FFFFF
#define INFINITE 0xFFFFFFFF

/* MINIDUMP_TYPE bits (see build.sh for why these). */
#define MiniDumpWithDataSegs 0x0001
#define MiniDumpWithFullMemory 0x0002
#define MiniDumpWithHandleData 0x0004

#ifndef LEAK_VIEWS
#define LEAK_VIEWS 64 /* serializers, one leaked view each */
#endif
#ifndef LEAK_VIEW_SIZE
#define LEAK_VIEW_SIZE (256 * 1024)
#endif
#ifndef LEAK_DUMP_TYPE
#define LEAK_DUMP_TYPE (MiniDumpWithFullMemory | MiniDumpWithDataSegs | MiniDumpWithHandleData)
#endif
#define LEAK_MESSAGES 6
#define LEAK_HOLDERS (2 + LEAK_MESSAGES + 1 + 1 + 2) /* = 12 */

/* ---- the serializer: a C++ object done by hand ------------------------------------ */

typedef struct CMMFSerializer CMMFSerializer;

typedef struct CMMFSerializerVtbl {
    void (*Destroy)(CMMFSerializer *self);
    void *(*GetBuffer)(CMMFSerializer *self);
    size_t (*Serialize)(CMMFSerializer *self, const void *data, size_t bytes);
} CMMFSerializerVtbl;

struct CMMFSerializer {
    const CMMFSerializerVtbl *vftable; /* +0x00: the fake vftable in .rdata          */
    void *view;                        /* +0x08: holder 1 - the view base             */
    void *cursor;                      /* +0x10: holder 2 - write position (= base)   */
    HANDLE mapping;                    /* +0x18                                       */
    size_t size;                       /* +0x20                                       */
    unsigned id;                       /* +0x28                                       */
    unsigned refs;                     /* +0x2c                                       */
};

static __attribute__((noinline)) void Serializer_Destroy(CMMFSerializer *self) {
    /* the bug: never UnmapViewOfFile(self->view); never CloseHandle(self->mapping) */
    self->refs--;
}
static __attribute__((noinline)) void *Serializer_GetBuffer(CMMFSerializer *self) {
    return self->view;
}
static __attribute__((noinline)) size_t Serializer_Serialize(CMMFSerializer *self,
                                                             const void *data, size_t bytes) {
    unsigned char *dst = (unsigned char *)self->view;
    const unsigned char *src = (const unsigned char *)data;
    for (size_t i = 0; i < bytes && i < self->size; i++) dst[i] = src[i];
    return bytes;
}

/* .rdata: const and initialised with addresses of code. */
const CMMFSerializerVtbl CMMFSerializer_vftable = {
    Serializer_Destroy,
    Serializer_GetBuffer,
    Serializer_Serialize,
};

/* ---- the other holders ------------------------------------------------------------- */

typedef struct MessageRecord {
    u64 magic;                  /* 'MSGREC\0\0' */
    struct MessageRecord *next;
    void *payload;              /* holder: the view base */
    size_t length;
    unsigned serializerId;
    unsigned sequence;
} MessageRecord;

typedef struct RegistryEntry {
    u64 magic;                  /* 'REGENTRY' */
    CMMFSerializer *serializer;
    void *base;                 /* holder: the view base */
    size_t size;
} RegistryEntry;

/* .data (non-zero initialisers keep them out of .bss; MiniDumpWithDataSegs is about .data) */
typedef struct MappingTableEntry {
    HANDLE mapping;
    void *base;                 /* holder */
    size_t size;
} MappingTableEntry;

struct LeakGlobals {
    char magic[8];                       /* "WDBLEAK1": find it with s -a */
    unsigned views, viewSize;
    void *viewCache[LEAK_VIEWS];         /* holder */
    MappingTableEntry table[LEAK_VIEWS]; /* holder */
    CMMFSerializer *serializers[LEAK_VIEWS];
    void **index;                        /* heap array, holder */
    MessageRecord *messages;             /* list head */
    RegistryEntry *registry[LEAK_VIEWS];
} g_leak = {.magic = {'W', 'D', 'B', 'L', 'E', 'A', 'K', '1'}, .views = LEAK_VIEWS, .viewSize = LEAK_VIEW_SIZE};

/* ---- output without a CRT ---------------------------------------------------------- */

static void Print(const char *s) {
    DWORD n = 0, w;
    while (s[n]) n++;
    WriteFile(GetStdHandle(STD_OUTPUT_HANDLE), s, n, &w, 0);
}
static void PrintHex(u64 v) {
    char buf[20];
    int i = 19;
    buf[i] = 0;
    do {
        buf[--i] = "0123456789abcdef"[v & 15];
        v >>= 4;
    } while (v);
    Print(buf + i);
}

/* ---- the program ------------------------------------------------------------------- */

static CMMFSerializer *NewSerializer(HANDLE heap, unsigned id) {
    CMMFSerializer *s = (CMMFSerializer *)HeapAlloc(heap, HEAP_ZERO_MEMORY, sizeof *s);
    if (!s) return 0;
    s->vftable = &CMMFSerializer_vftable;
    s->mapping = CreateFileMappingW(INVALID_HANDLE_VALUE, 0, PAGE_READWRITE, 0, LEAK_VIEW_SIZE, 0);
    if (!s->mapping) return 0;
    s->view = MapViewOfFile(s->mapping, FILE_MAP_ALL_ACCESS, 0, 0, LEAK_VIEW_SIZE);
    if (!s->view) return 0;
    s->cursor = s->view;
    s->size = LEAK_VIEW_SIZE;
    s->id = id;
    s->refs = 1;
    return s;
}

/* leak.exe dump PID: write leak.dmp of process PID */
static DWORD DumpProcess(DWORD pid) {
    HANDLE process = OpenProcess(PROCESS_ALL_ACCESS, 0, pid);
    if (!process) return 0;
    static const wchar_t16 name[] = {'l', 'e', 'a', 'k', '.', 'd', 'm', 'p', 0};
    HANDLE f = CreateFileW(name, GENERIC_WRITE, 0, 0, CREATE_ALWAYS, FILE_ATTRIBUTE_NORMAL, 0);
    if (f == INVALID_HANDLE_VALUE) return 0;
    BOOL ok = MiniDumpWriteDump(process, pid, f, LEAK_DUMP_TYPE, 0, 0, 0);
    CloseHandle(f);
    CloseHandle(process);
    return ok;
}

static DWORD RunDumper(void) {
    static wchar_t16 path[260];
    static wchar_t16 cmd[300];
    if (!GetModuleFileNameW(0, path, 260)) return 0;
    const char *verb = "leak.exe dump ";
    int n = 0;
    while (verb[n]) {
        cmd[n] = (wchar_t16)verb[n];
        n++;
    }
    char digits[12];
    int k = 0;
    DWORD pid = GetCurrentProcessId();
    do {
        digits[k++] = (char)('0' + pid % 10);
        pid /= 10;
    } while (pid);
    while (k) cmd[n++] = (wchar_t16)digits[--k];
    cmd[n] = 0;
    u64 startup[13] = {sizeof startup}; /* STARTUPINFOW: 104 bytes, cb first */
    u64 info[3] = {0};                  /* PROCESS_INFORMATION */
    if (!CreateProcessW(path, cmd, 0, 0, 0, 0, 0, 0, startup, info)) return 0;
    HANDLE child = (HANDLE)info[0];
    WaitForSingleObject(child, INFINITE);
    DWORD code = 0;
    GetExitCodeProcess(child, &code);
    CloseHandle(child);
    CloseHandle((HANDLE)info[1]);
    return code == 0;
}

void LeakMain(void) {
    /* "leak.exe dump PID": the dumper */
    const wchar_t16 *c = GetCommandLineW();
    while (*c && *c != ' ') c++;
    while (*c == ' ') c++;
    if (c[0] == 'd' && c[1] == 'u' && c[2] == 'm' && c[3] == 'p' && c[4] == ' ') {
        DWORD pid = 0;
        for (c += 5; *c >= '0' && *c <= '9'; c++) pid = pid * 10 + (DWORD)(*c - '0');
        ExitProcess(DumpProcess(pid) ? 0 : 1);
    }

    HANDLE heap = GetProcessHeap();
    g_leak.index = (void **)HeapAlloc(heap, HEAP_ZERO_MEMORY, LEAK_VIEWS * sizeof(void *));
    if (!g_leak.index) ExitProcess(2);

    for (unsigned i = 0; i < LEAK_VIEWS; i++) {
        CMMFSerializer *s = NewSerializer(heap, i + 1);
        if (!s) ExitProcess(3);
        g_leak.serializers[i] = s;
        g_leak.viewCache[i] = s->view;
        g_leak.table[i].mapping = s->mapping;
        g_leak.table[i].base = s->view;
        g_leak.table[i].size = s->size;
        g_leak.index[i] = s->view;

        RegistryEntry *r = (RegistryEntry *)HeapAlloc(heap, HEAP_ZERO_MEMORY, sizeof *r);
        if (!r) ExitProcess(4);
        r->magic = 0x5952544e45474552ull; /* "REGENTRY" */
        r->serializer = s;
        r->base = s->view;
        r->size = s->size;
        g_leak.registry[i] = r;

        for (unsigned m = 0; m < LEAK_MESSAGES; m++) {
            MessageRecord *msg = (MessageRecord *)HeapAlloc(heap, HEAP_ZERO_MEMORY, sizeof *msg);
            if (!msg) ExitProcess(5);
            msg->magic = 0x00004345524753 * 256ull + 0x4d; /* "MSGREC" */
            msg->payload = s->vftable->GetBuffer(s);
            msg->length = 64;
            msg->serializerId = s->id;
            msg->sequence = m;
            msg->next = g_leak.messages;
            g_leak.messages = msg;
        }
        /* touch the first page of the view so it holds something recognisable */
        static const char header[] = "CMMFSerializer view";
        s->vftable->Serialize(s, header, sizeof header);
        s->vftable->Destroy(s); /* drops the reference, leaks the view */
    }

    /* Dump from a second process, the way procdump or a crash handler would: Wine's
     * MiniDumpWriteDump gives the calling thread no context and no stack, and dbghelp's
     * own allocations would fill this process's heap. This thread waits meanwhile. */
    DWORD ok = RunDumper();
    Print("heap ");
    PrintHex((u64)heap);
    Print("\nvftable ");
    PrintHex((u64)&CMMFSerializer_vftable);
    Print("\ng_leak ");
    PrintHex((u64)&g_leak);
    Print("\n");
    for (unsigned i = 0; i < LEAK_VIEWS; i++) {
        Print("view ");
        PrintHex((u64)g_leak.viewCache[i]);
        Print(" serializer ");
        PrintHex((u64)g_leak.serializers[i]);
        Print("\n");
    }
    ExitProcess(ok ? 0 : 1);
}
