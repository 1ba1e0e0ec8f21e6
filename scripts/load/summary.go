package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"unicode/utf8"
)

// printSummary prints one table row (label, req/s, p50, p99, errors) per -json result file,
// in the order given.
func printSummary(w io.Writer, files []string) error {
	rows := [][]string{{"label", "req/s", "p50", "p99", "errors"}}
	var notes []string
	for _, name := range files {
		r, err := readResult(name)
		if err != nil {
			return err
		}
		label := r.Label
		switch {
		case r.Interrupted:
			label += " *"
			notes = append(notes, fmt.Sprintf("* %s: interrupted after %s", r.Label, seconds(r.DurationS)))
		case r.SamplesCapped:
			label += " *"
			notes = append(notes, fmt.Sprintf("* %s: percentiles from a random sample of %d of %d requests",
				r.Label, r.Samples, r.Requests))
		}
		rows = append(rows, []string{label, formatRate(r.RequestsPerSecond),
			formatMS(r.P50MS), formatMS(r.P99MS), formatErrors(r.Errors, r.ErrorRate)})
	}
	var b strings.Builder
	writeTable(&b, rows)
	for _, n := range notes {
		b.WriteString(n + "\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// writeTable prints rows as columns two spaces apart: the first column left-aligned, the
// others (numbers) right-aligned.
func writeTable(b *strings.Builder, rows [][]string) {
	var widths []int
	for _, row := range rows {
		for i, cell := range row {
			if i == len(widths) {
				widths = append(widths, 0)
			}
			widths[i] = max(widths[i], utf8.RuneCountInString(cell))
		}
	}
	for _, row := range rows {
		var line strings.Builder
		for i, cell := range row {
			pad := strings.Repeat(" ", widths[i]-utf8.RuneCountInString(cell))
			if i > 0 {
				line.WriteString("  " + pad + cell)
			} else {
				line.WriteString(cell + pad)
			}
		}
		b.WriteString(strings.TrimRight(line.String(), " ") + "\n")
	}
}

// readResult reads one file written by load -json.
func readResult(name string) (*result, error) {
	b, err := os.ReadFile(filepath.Clean(name))
	if err != nil {
		return nil, fmt.Errorf("summary: %w", err)
	}
	var r result
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("summary: %s is not a load -json result: %w", name, err)
	}
	if r.Label == "" {
		r.Label = filepath.Base(name)
	}
	return &r, nil
}
