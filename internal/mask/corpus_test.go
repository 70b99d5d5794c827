package mask

import (
	"fmt"
	"math/rand/v2"
	"strings"
)

// mixedCorpus generates about size bytes of realistic mixed text
// deterministically: names, postal addresses, prose, JSON documents and
// log lines, with PII and secrets scattered at a low rate (about one in
// forty records). It returns the corpus and the number of sensitive values
// planted.
func mixedCorpus(size int) ([]byte, int) {
	r := rand.New(rand.NewPCG(1, 2))
	first := []string{"Olivia", "Liam", "Emma", "Noah", "Amelia", "Oliver", "Sophia", "Elijah", "Mia", "James", "Zoë", "José", "Björn", "Aiko"}
	last := []string{"Smith", "Johnson", "Williams", "Brown", "Jones", "García", "Miller", "Davis", "Müller", "Nakamura", "O'Brien", "Kowalski"}
	streets := []string{"Main Street", "Oak Avenue", "Pine Road", "Maple Drive", "Cedar Lane", "Elm Court", "Bahnhofstraße", "Rue de Rivoli"}
	cities := []string{"Springfield, IL 62704", "Portland, OR 97201", "Austin, TX 78701", "10115 Berlin", "75001 Paris", "London SW1A 1AA"}
	words := strings.Fields(`the order was shipped to customer after payment confirmation and the
		warehouse team reported that inventory levels for this product remain low while the support
		ticket was escalated to tier two because the refund could not be processed automatically
		please review the attached invoice and confirm the delivery window for next week our records
		show version upgrade completed successfully on all nodes with latency under budget`)
	paths := []string{"/api/v1/orders", "/api/v1/users", "/healthz", "/api/v2/search", "/static/app.js"}
	levels := []string{"INFO", "INFO", "INFO", "WARN", "DEBUG", "ERROR"}
	secrets := []func() string{
		func() string {
			return fmt.Sprintf("%s.%s%d@example.com", strings.ToLower(first[r.IntN(9)]), strings.ToLower(last[r.IntN(8)]), r.IntN(100))
		},
		func() string { return "4111 1111 1111 1111" },
		func() string { return fmt.Sprintf("+1 415 555 %04d", r.IntN(10000)) },
		func() string { return "123-45-6789" },
		func() string { return fmt.Sprintf("203.%d.%d.%d", r.IntN(256), r.IntN(256), 1+r.IntN(254)) },
		func() string { return "DE89 3704 0044 0532 0130 00" },
		func() string { return "AKIAIOSFODNN7EXAMPLE" },
		func() string { return "ghp_" + strings.Repeat("aB3", 12) },
		func() string { return "postgres://app:s3cr3tpw@db.internal:5432/orders" },
		func() string {
			return "Authorization: Bearer eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U"
		},
		func() string { return "password=hunter2hunter2" },
		func() string { return "sk_live_" + strings.Repeat("x9Z", 8) },
	}
	var b strings.Builder
	planted := 0
	maybeSecret := func() string {
		if r.IntN(40) == 0 {
			planted++
			return " " + secrets[r.IntN(len(secrets))]() + " "
		}
		return " "
	}
	prose := func(n int) string {
		var p strings.Builder
		for k := 0; k < n; k++ {
			if k > 0 {
				p.WriteByte(' ')
			}
			p.WriteString(words[r.IntN(len(words))])
		}
		return p.String()
	}
	for b.Len() < size {
		name := first[r.IntN(len(first))] + " " + last[r.IntN(len(last))]
		switch r.IntN(5) {
		case 0: // name and address
			fmt.Fprintf(&b, "%s, %d %s, %s.%s\n", name, 1+r.IntN(9999), streets[r.IntN(len(streets))], cities[r.IntN(len(cities))], maybeSecret())
		case 1: // prose
			fmt.Fprintf(&b, "%s wrote: %s.%s%s. Total %d.%02d EUR for %d items.\n", name, prose(12+r.IntN(20)), maybeSecret(), prose(8), r.IntN(1000), r.IntN(100), 1+r.IntN(9))
		case 2: // JSON document
			fmt.Fprintf(&b, `{"id":%d,"uuid":"%08x-%04x-4%03x-a%03x-%012x","customer":{"name":%q,"city":%q},"items":[{"sku":"SKU-%05d","qty":%d,"price":%d.%02d},{"sku":"SKU-%05d","qty":%d,"price":%d.%02d}],"created_at":"2024-%02d-%02dT%02d:%02d:%02d.%03dZ","status":"shipped","note":"%s"}`+"\n",
				r.IntN(1e9), r.Uint32(), r.IntN(65536), r.IntN(4096), r.IntN(4096), r.Uint64()&0xffffffffffff,
				name, cities[r.IntN(len(cities))], r.IntN(99999), 1+r.IntN(5), r.IntN(500), r.IntN(100), r.IntN(99999), 1+r.IntN(5), r.IntN(500), r.IntN(100),
				1+r.IntN(12), 1+r.IntN(28), r.IntN(24), r.IntN(60), r.IntN(60), r.IntN(1000), strings.TrimSpace(prose(6)+maybeSecret()))
		case 3, 4: // log line
			fmt.Fprintf(&b, "2024-%02d-%02dT%02d:%02d:%02d.%03dZ %s [req=%016x] %s %s/%d 200 %dms ua=\"Mozilla/5.0 (X11; Linux x86_64) v1.%d.%d\" commit=%016x%016x%08x%s\n",
				1+r.IntN(12), 1+r.IntN(28), r.IntN(24), r.IntN(60), r.IntN(60), r.IntN(1000), levels[r.IntN(len(levels))], r.Uint64(),
				[]string{"GET", "POST", "PUT"}[r.IntN(3)], paths[r.IntN(len(paths))], r.IntN(100000), r.IntN(900), r.IntN(30), r.IntN(10), r.Uint64(), r.Uint64(), r.Uint32(), maybeSecret())
		}
	}
	return []byte(b.String()), planted
}
