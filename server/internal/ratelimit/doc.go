// Package ratelimit throttles the login, token and MFA endpoints (SEC-05,
// SEC-27): a rate limiter per client IP and per account, and a progressive
// lockout per (account, IP) pair and per account. Both keep their state in
// Redis when Gatehouse has one, so every replica sees the same counts, and in
// process memory otherwise.
//
// # Limiter
//
// A [Limiter] applies the generic cell rate algorithm (GCRA, a token bucket
// that stores one timestamp per key): a [Limit] of Rate per Period with a
// Burst admits Burst requests at once and then one every Period/Rate. The
// algorithm comes from well-kept libraries rather than our own arithmetic:
// [NewMemory] drives github.com/throttled/throttled/v2's GCRA over a bounded,
// expiring in-process store; [NewRedis] runs github.com/go-redis/redis_rate's
// Lua script, which is atomic on the Redis server and reads the Redis clock,
// so replicas with skewed clocks still agree. One conformance test suite holds
// both to the same answers for the same Limit.
//
// Keys are opaque strings built by the caller. [KeyIP] and [KeyAccount] build
// the usual ones: KeyAccount hashes the normalised account identifier, so raw
// email addresses never appear in Redis key names, and KeyIP groups an IPv6
// client by its /64, because one IPv6 subscriber commonly holds a whole /64
// and would otherwise get a fresh bucket per address.
//
// Backend errors are returned, never swallowed, and come with a zero [Result]
// (Allowed false). The caller chooses between failing open and failing closed;
// for login, token and MFA we recommend failing closed (answer 503 or 429):
// a Redis outage must not turn into unlimited password guessing.
//
// # Lockout
//
// [Lockout] implements the progressive lockout of SEC-05. It must expire on its
// own and must not let an attacker lock a user out indefinitely at no cost to
// themselves, so it counts failures at two levels:
//
//   - Per (account, client IP) pair. After PairThreshold failures (default 5)
//     the pair is locked for PairBaseLock (1m); every further lock of the same
//     pair doubles (2m, 4m, ...) up to PairMaxLock (1h). The failure count
//     forgets after QuietPeriod without failures, and the doubling resets once
//     the pair has stayed quiet for QuietPeriod after its last lock ended. This
//     is the lock an online guesser meets: it slows one source to about
//     PairThreshold guesses per PairMaxLock, while the real user, who logs in
//     from another address, is not affected at all.
//   - Per account, over all IPs. AccountThreshold failures (default 50) within
//     AccountWindow (1h, a fixed window opened by the first failure) lock the
//     account for a short, fixed AccountLock (10m) everywhere. This bounds a
//     distributed attack on one account to about AccountThreshold guesses per
//     AccountLock. Denying the real user costs the attacker AccountThreshold
//     failed attempts per AccountLock, spread over several addresses (each
//     address is itself held back by its pair lock and by the per-IP limiter),
//     and the denial ends AccountLock after they stop.
//
// Locks are never extended: a failure recorded while the pair or the account is
// locked changes nothing, so hammering a locked account neither lengthens the
// lock nor counts towards the next one. A success clears the pair's failure
// count and its doubling (the user has proved themselves from that address);
// it does not clear the account-wide count, which a distributed attacker would
// otherwise reset with one valid login of their own elsewhere.
//
// Lockout state is keyed by the account identifier as typed (normalised and
// hashed), not by a user record, so it behaves identically for accounts that do
// not exist. Callers must record failures for unknown accounts too: then a
// lockout response says nothing about whether the account exists (SEC-04).
//
// Each failure is one atomic step: a Lua script in Redis, one mutex in memory.
// However many requests fail at once, exactly one of them reports lockedNow,
// so the caller records exactly one "account.locked" security event per lock.
//
// # Intended use on login
//
//  1. Limiter.Allow on KeyIP("login", ip) and KeyAccount("login", email);
//     refused -> 429 with Retry-After.
//  2. Lockout.Check(email, ip); locked -> 429 with Retry-After.
//  3. Verify the password (against a dummy hash for unknown users).
//  4. On failure Lockout.Failure (lockedNow -> security event); on success
//     Lockout.Success.
package ratelimit
