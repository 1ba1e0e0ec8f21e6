package migrations

import (
	"io/fs"
	"slices"
	"strings"
	"testing"
)

// Both dialects must carry the same migrations, each with an Up and a Down section, so that
// `migrate down` works everywhere and the schemas cannot drift apart by omission.
func TestDialectsHaveTheSameMigrations(t *testing.T) {
	names := map[string][]string{}
	for _, d := range []string{Postgres, SQLite} {
		fsys, err := FS(d)
		if err != nil {
			t.Fatal(err)
		}
		entries, err := fs.ReadDir(fsys, ".")
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			raw, err := fs.ReadFile(fsys, e.Name())
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(string(raw), "-- +goose Up") || !strings.Contains(string(raw), "-- +goose Down") {
				t.Errorf("%s/%s lacks an Up or Down section", d, e.Name())
			}
			names[d] = append(names[d], e.Name())
		}
		if len(names[d]) == 0 {
			t.Fatalf("no migrations for %s", d)
		}
	}
	if !slices.Equal(names[Postgres], names[SQLite]) {
		t.Fatalf("postgres %v vs sqlite %v", names[Postgres], names[SQLite])
	}
	if _, err := FS("mysql"); err == nil {
		t.Fatal("unknown dialect must be an error")
	}
}
