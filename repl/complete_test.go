package repl

import (
	"reflect"
	"sort"
	"strings"
	"testing"

	"wdb/commands"
	"wdb/dump"
)

func init() {
	// zzaddr completes like !address: whole-argument candidates for -f:
	// filters, words otherwise.
	commands.Register(&commands.Command{Name: "zzaddr", Usage: "zzaddr", Summary: "test: completion",
		Complete: func(s *commands.Session, args string) []string {
			if i := strings.LastIndexAny(args, ":,"); i >= 0 {
				var out []string
				for _, f := range []string{"MEM_MAPPED", "MEM_PRIVATE", "MEM_IMAGE", "Image"} {
					out = append(out, args[:i+1]+f)
				}
				return out
			}
			return []string{"-summary", "-f:", "-c:"}
		},
		Run: func(s *commands.Session, inv *commands.Invocation) (commands.Result, error) { return nil, nil }})
	// zzfilt returns bare words for the part after ':'.
	commands.Register(&commands.Command{Name: "zzfilt", Usage: "zzfilt", Summary: "test: completion",
		Complete: func(s *commands.Session, args string) []string { return []string{"Stack", "Heap"} },
		Run:      func(s *commands.Session, inv *commands.Invocation) (commands.Result, error) { return nil, nil }})
}

func TestComplete(t *testing.T) {
	c := &completer{s: commands.NewSession(nil, nil, nil)}
	tests := []struct {
		text string
		want []string
		n    int
	}{
		{"zzad", []string{"dr "}, 4},
		{"zzecho a; zzad", []string{"dr "}, 4},
		{"ZZAD", []string{"DR "}, 4},
		{"zzaddr -s", []string{"ummary"}, 2},
		{"zzaddr -f:MEM_M", []string{"APPED"}, 8},
		{"zzaddr -f:mem_p", []string{"rivate"}, 8},
		{"zzaddr -f:Image,MEM_", []string{"IMAGE", "MAPPED", "PRIVATE"}, 13},
		{"zzfilt -f:St", []string{"ack"}, 2},
		{"zzfilt -f:Heap,h", []string{"eap"}, 1},
		{`zzecho "a;b" zzad`, nil, 0}, // inside .echo's argument, not a command
	}
	for _, tt := range tests {
		got, n := c.complete(tt.text)
		if len(got) == 0 && len(tt.want) == 0 {
			continue
		}
		if !reflect.DeepEqual(got, tt.want) || n != tt.n {
			t.Errorf("complete(%q) = %q, %d; want %q, %d", tt.text, got, n, tt.want, tt.n)
		}
	}
}

func TestCompleteModules(t *testing.T) {
	f, err := dump.Open(corpusPath(t, "trailofbits__manticore/tests/memdumps/simple_fpu/simple_fpu.dmp"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	c := &completer{s: commands.NewSession(f, nil, nil)}
	var names []string
	for i := range f.Modules {
		names = append(names, f.Modules[i].ModuleName())
	}
	got, n := c.complete("zzecho poi(kernel")
	var want []string
	for _, m := range names {
		if strings.HasPrefix(strings.ToLower(m), "kernel") {
			want = append(want, strings.ToLower(m[len("kernel"):]))
		}
	}
	sort.Strings(want)
	if len(want) == 0 {
		t.Skipf("no kernel* module in %v", names)
	}
	if strings.Join(got, ",") != strings.Join(want, ",") || n != 6 {
		t.Errorf("complete(poi(kernel) = %q, %d; want %q, 6 (modules %v)", got, n, want, names)
	}
}
