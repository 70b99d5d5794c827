package main

import "strings"

// sysmonAwake is the GODEBUG setting that keeps Go's system monitor out of
// its deep sleep (see keepSysmonAwake): a scheduler trace every
// 2,147,483,647 ms, the largest period the runtime takes (24.8 days).
const sysmonAwake = "schedtrace=2147483647"

// withSysmonAwake returns env with sysmonAwake added to GODEBUG, and
// whether it added it. An environment whose GODEBUG already names
// schedtrace is the operator's choice (schedtrace=0 is the runtime's
// default) and comes back unchanged. Like the runtime, it takes the first
// GODEBUG of env and drops the others.
func withSysmonAwake(env []string) ([]string, bool) {
	godebug, found := "", false
	out := make([]string, 0, len(env)+1)
	for _, kv := range env {
		v, ok := strings.CutPrefix(kv, "GODEBUG=")
		if !ok {
			out = append(out, kv)
			continue
		}
		if !found {
			godebug, found = v, true
		}
	}
	for _, setting := range strings.Split(godebug, ",") {
		if strings.HasPrefix(strings.TrimSpace(setting), "schedtrace=") {
			return env, false
		}
	}
	if godebug != "" {
		godebug += ","
	}
	return append(out, "GODEBUG="+godebug+sysmonAwake), true
}
