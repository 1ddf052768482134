// Command strata is the Strata binary.
//
// # Basics
//
// main.go and root.go set up cobra; each subcommand has its own file:
// command_agent.go (`strata agent`: flags, STRATA_* environment and an
// optional YAML file through viper, mapped onto agent.Config) and
// command_migrate.go (`strata migrate up|status`). Wiring only: no logic
// here that a package could hold.
//
// # Caveats
//
// A configuration error (bad flag, value, URL, unknown YAML key, a data dir
// another agent holds) prints one line and exits 2; any other failure exits
// 1. The process-level tests (crash, failover, outage, kcat) build this
// binary and drive it as users do.
package main
