package store

import (
	"context"
	"fmt"
	"time"

	"gorm.io/gorm"
)

// cleanupBatch bounds the rows one DELETE removes, so the clean-up never holds a long write
// lock (SQLite has one writer) or a huge transaction on a table that grew unchecked.
const cleanupBatch = 1000

// UnconfirmedEnrollmentAge is how long an unconfirmed TOTP enrollment or SMS/email address is
// kept: a user who started enrolling a day ago and never typed the code starts again.
const UnconfirmedEnrollmentAge = 24 * time.Hour

// CleanupCount is what one clean-up step deleted.
type CleanupCount struct {
	// Table is the table the rows were deleted from.
	Table string
	// Deleted is the number of rows (rows a foreign key cascade removed are not counted).
	Deleted int64
}

// cleanupStep deletes one kind of dead row. where selects them; its arguments are filled with
// the cut-off times.
type cleanupStep struct {
	table string
	model any
	key   string // primary key column (a single one) the batches select on
	where string
	args  func(cutoff, enrollCutoff time.Time) []any
}

// Refresh tokens go before sessions: their own expiry passes long before their session's
// retention does, and a session's deletion cascades to the tokens it still has.
var cleanupSteps = []cleanupStep{
	{table: "refresh_tokens", model: &refreshTokenRow{}, key: "token_hash",
		where: "expires_at < ?", args: func(c, _ time.Time) []any { return []any{c} }},
	{table: "sessions", model: &sessionRow{}, key: "id",
		where: "(revoked_at IS NOT NULL AND revoked_at < ?) OR idle_expires_at < ? OR absolute_expires_at < ?",
		args:  func(c, _ time.Time) []any { return []any{c, c, c} }},
	{table: "mfa_pending", model: &mfaPendingRow{}, key: "id",
		where: "expires_at < ?", args: func(c, _ time.Time) []any { return []any{c} }},
	{table: "mfa_codes", model: &mfaCodeRow{}, key: "id",
		where: "expires_at < ?", args: func(c, _ time.Time) []any { return []any{c} }},
	{table: "trusted_devices", model: &trustedDeviceRow{}, key: "id",
		where: "(revoked_at IS NOT NULL AND revoked_at < ?) OR expires_at < ?",
		args:  func(c, _ time.Time) []any { return []any{c, c} }},
	{table: "mfa_totp", model: &mfaTOTPRow{}, key: "user_id",
		where: "confirmed_at IS NULL AND created_at < ?", args: func(_, e time.Time) []any { return []any{e} }},
	{table: "oauth_flows", model: &oauthFlowRow{}, key: "id",
		where: "expires_at < ?", args: func(c, _ time.Time) []any { return []any{c} }},
	{table: "oauth_exchange_codes", model: &oauthExchangeCodeRow{}, key: "code_hash",
		where: "expires_at < ?", args: func(c, _ time.Time) []any { return []any{c} }},
}

// DeleteExpired deletes rows nobody can use any more: sessions revoked or expired, refresh
// tokens expired, pending second-factor logins, one-time codes, social-login flows and
// native-app exchange codes expired, trusted devices
// revoked or expired, each once it has been dead for longer than retention (so support can
// still see a user's recent sessions); and TOTP enrollments left unconfirmed for
// UnconfirmedEnrollmentAge. Confirmed factors, users and the security event log are never
// touched. It returns the rows deleted per table, in a fixed order, also when it fails part
// way (the error names the table).
//
// Every row it deletes is already refused by the code that reads it (expiry and revocation are
// checked on every use), so a clean-up racing a request, or two replicas cleaning at once,
// changes no answer.
func (db *DB) DeleteExpired(ctx context.Context, now time.Time, retention time.Duration) ([]CleanupCount, error) {
	cutoff := now.Add(-retention).UTC()
	enrollCutoff := now.Add(-UnconfirmedEnrollmentAge).UTC()
	out := make([]CleanupCount, 0, len(cleanupSteps))
	for _, s := range cleanupSteps {
		n, err := deleteInBatches(ctx, db.gorm, s, s.args(cutoff, enrollCutoff))
		out = append(out, CleanupCount{Table: s.table, Deleted: n})
		if err != nil {
			return out, fmt.Errorf("clean up %s: %w", s.table, err)
		}
	}
	return out, nil
}

// deleteInBatches deletes the matching rows cleanupBatch at a time until fewer remain.
func deleteInBatches(ctx context.Context, g *gorm.DB, s cleanupStep, args []any) (int64, error) {
	var total int64
	for {
		if err := ctx.Err(); err != nil {
			return total, err
		}
		batch := g.WithContext(ctx).Model(s.model).Select(s.key).Where(s.where, args...).Limit(cleanupBatch)
		res := g.WithContext(ctx).Where(s.key+" IN (?)", batch).Delete(s.model)
		if res.Error != nil {
			return total, res.Error
		}
		total += res.RowsAffected
		if res.RowsAffected < cleanupBatch {
			return total, nil
		}
	}
}
