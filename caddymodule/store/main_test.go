package store_test

import (
	"os"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	if os.Getenv(crashChildEnv) != "" {
		os.Exit(runCrashChild())
	}
	// Every store must stop its goroutines on Close (and leave none behind
	// when Open fails).
	goleak.VerifyTestMain(m)
}
