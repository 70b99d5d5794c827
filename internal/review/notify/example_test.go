package notify_test

import (
	"encoding/json"
	"io"
	"net/http"
	"time"

	"github.com/sluicehq/sluice/internal/review/notify"
)

// A receiver of sluice's webhook checks each delivery against the raw body
// before trusting it, and answers 2xx once it has taken the event.
func ExampleVerifyWebhook() {
	const secret = "the shared secret"
	http.HandleFunc("/sluice", func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if err != nil {
			http.Error(w, "cannot read body", http.StatusBadRequest)
			return
		}
		if err := notify.VerifyWebhook(secret, r.Header, body, time.Now(), 5*time.Minute); err != nil {
			http.Error(w, "bad signature", http.StatusUnauthorized)
			return
		}
		var ev notify.WebhookEvent
		if err := json.Unmarshal(body, &ev); err != nil {
			http.Error(w, "bad body", http.StatusBadRequest)
			return
		}
		switch ev.Event {
		case notify.EventReviewOpened:
			// Announce ev.Review; ev.Links.CLI tells approvers how to decide.
		case notify.EventReviewClosed:
			// Update the announcement made for ev.Ref.
		}
		w.WriteHeader(http.StatusNoContent)
	})
}
