package main

import (
	"errors"
	"reflect"
	"testing"
)

func TestParseArgs(t *testing.T) {
	env := map[string]string{
		"_NT_SYMBOL_PATH":           "srv*",
		"_NT_ALT_SYMBOL_PATH":       `C:\alt`,
		"_NT_EXECUTABLE_IMAGE_PATH": `C:\img`,
	}
	getenv := func(k string) string { return env[k] }
	tests := []struct {
		args []string
		want config
	}{
		{[]string{"a.dmp"}, config{dump: "a.dmp", symbolPath: `C:\alt;srv*`, imagePath: `C:\img`}},
		{[]string{"-z", "a.dmp", "-y", "s", "-i", "i"}, config{dump: "a.dmp", symbolPath: "s", imagePath: "i"}},
		{[]string{"--y", "", "-i", "", "a.dmp"}, config{dump: "a.dmp"}}, // an explicit empty path beats the environment
		{[]string{"-c", "lm", "-c", "q", "--json", "a.dmp"}, config{dump: "a.dmp", commands: "lm; q", json: true, symbolPath: `C:\alt;srv*`, imagePath: `C:\img`}},
		{[]string{"-cf", "s.txt", "-loga", "l.txt", "--", "-odd.dmp"}, config{dump: "-odd.dmp", commandFile: "s.txt", logFile: "l.txt", logAppend: true, symbolPath: `C:\alt;srv*`, imagePath: `C:\img`}},
		{[]string{"-logo", "l.txt", "-version"}, config{logFile: "l.txt", version: true, symbolPath: `C:\alt;srv*`, imagePath: `C:\img`}},
		{[]string{"-?"}, config{help: true, symbolPath: `C:\alt;srv*`, imagePath: `C:\img`}},
	}
	for _, tt := range tests {
		got, err := parseArgs(tt.args, getenv)
		if err != nil {
			t.Errorf("parseArgs(%q): %v", tt.args, err)
			continue
		}
		if !reflect.DeepEqual(*got, tt.want) {
			t.Errorf("parseArgs(%q) = %+v, want %+v", tt.args, *got, tt.want)
		}
	}
}

func TestParseArgsErrors(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"-foo"}, "unknown option -foo (see wdb --help)"},
		{[]string{"--z"}, "option -z needs a value (see wdb --help)"},
		{[]string{"-y", "a", "-y", "b"}, "option -y given twice (see wdb --help)"},
		{[]string{"-logo", "a", "-loga", "b"}, "only one of -logo and -loga may be given (see wdb --help)"},
		{[]string{"a.dmp", "-z", "b.dmp"}, "more than one dump file given (a.dmp, b.dmp); wdb opens one dump at a time (see wdb --help)"},
	}
	for _, tt := range tests {
		_, err := parseArgs(tt.args, func(string) string { return "" })
		var ue *usageError
		if !errors.As(err, &ue) || err.Error() != tt.want {
			t.Errorf("parseArgs(%q) error = %v, want usage error %q", tt.args, err, tt.want)
		}
	}
}
