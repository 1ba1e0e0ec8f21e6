package secrets

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"time"
)

// MinRotationInterval is the shortest scheduled rotation interval.
const MinRotationInterval = time.Hour

// normalizeGenerator validates g and fills in its defaults, so a stored policy says exactly
// what it generates.
func (s *Service) normalizeGenerator(g *Generator) error {
	if s.generator == nil {
		return ErrRotationOff
	}
	n, err := s.generator.Normalize(*g)
	if err != nil {
		return invalid("generator", err.Error())
	}
	*g = n
	return nil
}

func (s *Service) validateRotation(p *RotationPolicy) error {
	if p.Interval != 0 && p.Interval < MinRotationInterval {
		return invalid("interval", fmt.Sprintf("interval is 0 (on demand only) or at least %s", MinRotationInterval))
	}
	if p.Window < 0 || (p.Interval > 0 && p.Window > p.Interval) {
		return invalid("window", "window must be between 0 and the interval")
	}
	if p.HookURL != "" {
		u, err := url.Parse(p.HookURL)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil {
			return invalid("hook_url", "hook_url must be an http(s) URL without credentials")
		}
		if s.hook == nil {
			return invalid("hook_url", "rotation test hooks need a signing key (secrets.rotation_hook_key)")
		}
	}
	return s.normalizeGenerator(&p.Generator)
}

// scheduleRotation sets NextRotationAt from the policy's interval, counted from from.
func (s *Service) scheduleRotation(sec *Secret, from time.Time) {
	sec.NextRotationAt = nil
	if sec.Rotation != nil && sec.Rotation.Interval > 0 {
		next := from.Add(sec.Rotation.Interval)
		sec.NextRotationAt = &next
	}
}

// Due is a secret's next scheduled rotation time.
type Due struct {
	Name string
	At   time.Time
}

// RotationDue reports whether a secret's scheduled rotation is due within its policy's
// window (the API's expiry warning).
func RotationDue(sec Secret, now time.Time) bool {
	if sec.NextRotationAt == nil || sec.Rotation == nil {
		return false
	}
	return !now.Add(sec.Rotation.Window).Before(*sec.NextRotationAt)
}

// generate makes a value with the configured generator.
func (s *Service) generate(g Generator) ([]byte, error) {
	if err := s.normalizeGenerator(&g); err != nil {
		return nil, err
	}
	v, err := s.generator.Generate(g)
	if err != nil {
		return nil, fmt.Errorf("generate a %s value: %w", g.Type, err)
	}
	return v, nil
}

// SetRotation sets (or, with nil, removes) a secret's rotation policy.
func (s *Service) SetRotation(ctx context.Context, a Actor, name string, p *RotationPolicy) (Secret, error) {
	o := &op{action: AuditPolicy, name: name}
	var out Secret
	err := s.audited(ctx, a, o, func() error {
		if err := ValidateName(name); err != nil {
			return err
		}
		if err := s.authorize(ctx, a, ActionRotate, name); err != nil {
			return err
		}
		sec, err := s.lookup(ctx, name)
		if err != nil {
			return err
		}
		o.backend = sec.Backend
		if p != nil {
			if err := s.validateRotation(p); err != nil {
				return err
			}
			if _, ok := s.backends[sec.Backend].(Writer); !ok {
				return backendErr(sec.Backend, ErrReadOnly)
			}
		}
		now := s.now()
		sec.Rotation, sec.UpdatedAt = p, now
		from := now
		if sec.LastRotatedAt != nil {
			from = *sec.LastRotatedAt
		}
		s.scheduleRotation(&sec, from)
		if err := s.store.UpdateSecret(ctx, sec); err != nil {
			return err
		}
		out = sec
		return nil
	})
	return out, err
}

// Rotate replaces a secret's value following create → set → test → finish (SEC-44):
//
//  1. create: a new value from the policy's generator;
//  2. set: stored in the backend and recorded as a new version with stage pending;
//  3. test: the policy's hook, if any, must accept the pending value;
//  4. finish: the pending version becomes current and the old current previous.
//
// A failure at any step leaves current untouched and readable; the audit record says why,
// and a pending version that failed its test loses its stage.
func (s *Service) Rotate(ctx context.Context, a Actor, name string) (Version, error) {
	o := &op{action: AuditRotate, name: name}
	var out Version
	err := s.audited(ctx, a, o, func() error {
		if err := ValidateName(name); err != nil {
			return err
		}
		if err := s.authorize(ctx, a, ActionRotate, name); err != nil {
			return err
		}
		sec, err := s.lookup(ctx, name)
		if err != nil {
			return err
		}
		o.backend = sec.Backend
		if s.generator == nil {
			return ErrRotationOff
		}
		if sec.Rotation == nil {
			return fmt.Errorf("%q: %w", name, ErrNoRotation)
		}
		b, err := s.backend(sec.Backend)
		if err != nil {
			return err
		}
		w, ok := b.(Writer)
		if !ok {
			return backendErr(sec.Backend, ErrReadOnly)
		}
		if sec.Rotation.HookURL != "" && s.hook == nil {
			// The policy asks for a test this server cannot sign (no rotation hook key, e.g.
			// after a restart without it): refuse rather than promote an untested value (SEC-44).
			return fmt.Errorf("%w: the policy names a test hook but this server has no rotation hook key", ErrRotationFailed)
		}
		value, err := s.generate(sec.Rotation.Generator) // create
		if err != nil {
			return fmt.Errorf("%w: %w", ErrRotationFailed, err)
		}
		if err := s.checkValue(b, value); err != nil {
			return err
		}
		ref, err := w.Put(ctx, name, value) // set
		if err != nil {
			return backendErr(sec.Backend, err)
		}
		pending, err := s.store.AddVersion(ctx, Version{SecretID: sec.ID, BackendRef: ref, Stage: StagePending, CreatedBy: a.Ref(), CreatedAt: s.now()})
		if err != nil {
			return err
		}
		o.version = pending.Version
		if s.hook != nil && sec.Rotation.HookURL != "" { // test
			if err := s.hook.Test(ctx, sec.Rotation.HookURL, name, pending.Version, value); err != nil {
				clearErr := s.store.ClearStage(context.WithoutCancel(ctx), sec.ID, StagePending)
				return errors.Join(fmt.Errorf("%w: the test hook refused version %d: %w", ErrRotationFailed, pending.Version, err), clearErr)
			}
		}
		if err := s.store.Promote(ctx, sec.ID, pending.Version); err != nil { // finish
			return err
		}
		s.invalidate(ctx, name)
		if err := s.promoteInBackend(ctx, b, sec, ref); err != nil {
			return err
		}
		now := s.now()
		sec.LastRotatedAt, sec.UpdatedAt = &now, now
		s.scheduleRotation(&sec, now)
		if err := s.store.UpdateSecret(ctx, sec); err != nil {
			return err
		}
		pending.Stage = StageCurrent
		out = pending
		return nil
	})
	return out, err
}
