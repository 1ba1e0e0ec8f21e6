package ratelimit

import (
	"context"
	"fmt"

	"github.com/go-redis/redis_rate/v10"
	"github.com/redis/go-redis/v9"
)

// NewRedis returns a Limiter that keeps its state in Redis, shared by every
// replica using the same Redis and prefix. Keys are stored as
// "rate:" + prefix + key (redis_rate adds "rate:") and expire once they no
// longer limit anything. Every Allow is one EVALSHA: the GCRA runs atomically
// on the server against the server's clock.
//
// Errors from Redis are returned with a zero Result; see the package
// documentation for why login should then fail closed.
func NewRedis(c *redis.Client, prefix string) Limiter {
	return &redisLimiter{rl: redis_rate.NewLimiter(c), prefix: prefix}
}

type redisLimiter struct {
	rl     *redis_rate.Limiter
	prefix string
}

func (r *redisLimiter) Allow(ctx context.Context, key string, l Limit) (Result, error) {
	if err := l.validate(); err != nil {
		return Result{}, err
	}
	res, err := r.rl.Allow(ctx, r.prefix+key, redis_rate.Limit{Rate: l.Rate, Period: l.Period, Burst: l.Burst})
	if err != nil {
		return Result{}, fmt.Errorf("ratelimit: redis allow: %w", err)
	}
	out := Result{Allowed: res.Allowed > 0, Remaining: max(res.Remaining, 0), ResetAfter: max(res.ResetAfter, 0)}
	if !out.Allowed {
		out.RetryAfter = max(res.RetryAfter, 0)
	}
	return out, nil
}

func (r *redisLimiter) Reset(ctx context.Context, key string) error {
	if err := r.rl.Reset(ctx, r.prefix+key); err != nil {
		return fmt.Errorf("ratelimit: redis reset: %w", err)
	}
	return nil
}
