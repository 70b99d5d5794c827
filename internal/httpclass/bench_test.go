package httpclass

import "testing"

// BenchmarkClassify classifies typical requests against every built-in set
// at once (a connection has one, so this is the worst case).
func BenchmarkClassify(b *testing.B) {
	c := fuzzClassifier()
	benches := []struct{ name, method, host, path, query string }{
		{"arm-delete", "DELETE", arm, acct, av},
		{"arm-get", "GET", arm, acct + "/blobServices/default/containers/audit", av},
		{"arm-post-listkeys", "POST", arm, acct + "/listKeys", av},
		{"arm-encoded-slash", "DELETE", arm, sub + "/resourceGroups%2Fprod-rg", av},
		{"s3-virtual-delete", "DELETE", s3v, "/2024/01/app.log", "versionId=3HL4kqtJlcpXroDTDmJ"},
		{"k8s-exec", "POST", kube, pod + "/exec", "command=sh&stdin=true&tty=true"},
		{"anthropic-messages", "POST", ant, "/v1/messages", ""},
	}
	for _, bb := range benches {
		b.Run(bb.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				c.Classify(bb.method, bb.host, bb.path, bb.query)
			}
		})
	}
	one, _ := Builtin("azure")
	azure := mustNew(one)
	b.Run("arm-delete-azure-only", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			azure.Classify("DELETE", arm, acct, av)
		}
	})
}
