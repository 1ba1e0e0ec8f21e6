package app_test

import (
	"context"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"gatehouse/server/internal/app"
	"gatehouse/server/internal/config"
	"gatehouse/server/internal/testenv"
)

// TestCleanupJob: the leader-only clean-up job runs on schedule, deletes a logged-out session,
// and reports each run in the log and in gatehouse_cleanup_deleted_rows_total.
func TestCleanupJob(t *testing.T) {
	testenv.Each(t, func(t *testing.T, dialect string) {
		ctx := context.Background()
		env := testenv.New(t, dialect, testenv.WithConfig(func(c *config.Config) {
			c.Jobs.CleanupInterval = 200 * time.Millisecond
			c.Jobs.CleanupRetention = 0
			c.Jobs.LockCheck = 50 * time.Millisecond
		}))
		if !slices.Contains(env.App.Jobs.Names(), app.CleanupJob) {
			t.Fatalf("jobs %v: no %s", env.App.Jobs.Names(), app.CleanupJob)
		}
		env.CreateUser(t, userEmail, userPass)
		c, _ := env.LoginBearer(t, userEmail, userPass)
		if err := c.Logout(ctx); err != nil {
			t.Fatal(err)
		}
		sessions := func() int {
			var n int
			if err := env.App.DB.SQL().QueryRowContext(ctx, "SELECT COUNT(*) FROM sessions").Scan(&n); err != nil {
				t.Fatal(err)
			}
			return n
		}
		if n := sessions(); n != 1 {
			t.Fatalf("%d sessions after the logout, want the revoked one", n)
		}
		deadline := time.Now().Add(10 * time.Second)
		for sessions() != 0 {
			if time.Now().After(deadline) {
				t.Fatal("the clean-up job did not delete the revoked session")
			}
			time.Sleep(50 * time.Millisecond)
		}
		// The metric and the log line follow the delete (same run): wait for them briefly.
		for {
			raw, _ := io.ReadAll(rawGet(t, env.URL+"/metrics", nil).Body)
			metrics := string(raw)
			if strings.Contains(metrics, `gatehouse_cleanup_deleted_rows_total{table="sessions"} 1`) &&
				strings.Contains(metrics, `gatehouse_leader_job_runs_total{job="cleanup",outcome="ok"}`) &&
				strings.Contains(env.Logs.String(), "cleanup: deleted expired rows") {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("no clean-up metrics or log line:\n%s", metrics)
			}
			time.Sleep(50 * time.Millisecond)
		}
	})
}
