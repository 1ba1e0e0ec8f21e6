package state

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"gatehouse/shared/api"
)

// CSVHeader is the first line of an events export.
func CSVHeader() []string {
	return []string{"time", "type", "outcome", "actor_id", "actor_email", "subject_user_id", "subject_email",
		"ip", "user_agent", "request_id", "details"}
}

// WriteEventsCSV writes events as RFC 4180 CSV. name maps a user ID to its email ("" unknown).
// Cells are neutralised against formula injection: spreadsheets run a cell that starts with
// = + - @ (or a tab/CR), and user agents and details are attacker-controlled.
func WriteEventsCSV(w io.Writer, events []api.SecurityEvent, name func(id string) string) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(CSVHeader()); err != nil {
		return fmt.Errorf("write csv header: %w", err)
	}
	lookup := func(id string) string {
		if id == "" || name == nil {
			return ""
		}
		if n := name(id); n != id {
			return n
		}
		return ""
	}
	for _, ev := range events {
		details := ""
		if len(ev.Details) > 0 {
			b, err := json.Marshal(ev.Details)
			if err != nil {
				return fmt.Errorf("event %s details: %w", ev.ID, err)
			}
			details = string(b)
		}
		rec := []string{
			ev.CreatedAt.UTC().Format(time.RFC3339), ev.Type, ev.Outcome,
			ev.ActorID, lookup(ev.ActorID), ev.SubjectUserID, lookup(ev.SubjectUserID),
			ev.IP, ev.UserAgent, ev.RequestID, details,
		}
		for i := range rec {
			rec[i] = safeCell(rec[i])
		}
		if err := cw.Write(rec); err != nil {
			return fmt.Errorf("write event %s: %w", ev.ID, err)
		}
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return fmt.Errorf("write csv: %w", err)
	}
	return nil
}

func safeCell(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

// ExportFileName suggests a file name for an export made at now.
func ExportFileName(now time.Time) string {
	return "gatehouse-events-" + now.UTC().Format("20060102-150405") + ".csv"
}
