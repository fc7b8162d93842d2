package commands

import "time"

// nowStamp is the .logopen /t suffix: yyyy-mm-dd_hh-mm-ss-mmm.
func nowStamp() string {
	t := time.Now()
	return t.Format("2006-01-02_15-04-05") + "-" + t.Format(".000")[1:]
}
