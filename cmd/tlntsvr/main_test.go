package main

import (
	"os"
	"strings"
	"testing"
)

// TestMain lets a test run the daemon as a process of its own: this test
// binary, run again with TLNTSVR_TEST_MAIN set to the arguments, is
// tlntsvr (see startDaemonProcess).
func TestMain(m *testing.M) {
	if args, ok := os.LookupEnv("TLNTSVR_TEST_MAIN"); ok {
		os.Args = append([]string{"tlntsvr"}, strings.Fields(args)...)
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}
