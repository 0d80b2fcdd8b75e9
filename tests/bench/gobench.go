// gobench.go holds the Go-benchmarks phase: it runs the hot-path
// benchmarks with `go test -bench` and keeps their result lines.

package main

import (
	"errors"
	"fmt"
	"os/exec"
	"strings"
)

// goBenchmarks runs the Go benchmarks of the hot path and returns their output.
func goBenchmarks() string {
	args := []string{"test", "-run", "^$", "-bench", "Verify|RS256|JWXParse|BearerToken|Protect|MatchRedirectURI|Put|Take|Get",
		"-benchmem", "-count", "1", "-benchtime", "1s", "-p", "1",
		"./caddymodule/", "./caddymodule/verifier/", "./caddymodule/store/"}
	cmd := exec.Command("go", args...)
	out, err := cmd.CombinedOutput()
	var keep []string
	for _, l := range strings.Split(string(out), "\n") {
		if strings.HasPrefix(l, "Benchmark") || strings.HasPrefix(l, "ok") || strings.HasPrefix(l, "FAIL") || strings.HasPrefix(l, "---") || strings.HasPrefix(l, "pkg:") {
			keep = append(keep, l)
		}
	}
	s := "$ go " + strings.Join(args, " ") + "\n" + strings.Join(keep, "\n")
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			s += "\n(go test failed: " + err.Error() + ")\n" + tail(string(out), 2000)
		}
	}
	fmt.Println(s)
	return s
}
