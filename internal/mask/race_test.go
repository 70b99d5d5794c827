//go:build race

package mask

// raceEnabled is set when testing with -race, which makes sync.Pool drop
// items at random (and so allocate).
const raceEnabled = true
