package commands

import "testing"

func TestDumpDebugGolden(t *testing.T) { runGoldenTopic(t, "dumpdebug") }
