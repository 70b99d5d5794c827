//go:build race

package e2e

// raceEnabled builds the gateway with -race too when the tests run with it,
// so that a data race in the real binary fails its clean-exit check.
const raceEnabled = true
