//go:build race

package main

// When the tests run with -race, the agent binary they start is built with
// -race too, so the crash and kcat tests also hunt data races in the real
// process (see the check in spawn).
func init() { binBuildFlags = append(binBuildFlags, "-race") }
