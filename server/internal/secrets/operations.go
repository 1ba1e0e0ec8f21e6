package secrets

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// CreateRequest is a new secret. Exactly one of Value and Generate is set for writable
// backends; neither for read-only ones (the value is already in the backend).
type CreateRequest struct {
	Name        string
	Backend     string // "" means the configured default
	Value       []byte
	Generate    *Generator
	Description string
	Owner       string
	Labels      map[string]string
	Rotation    *RotationPolicy
}

// Create makes a secret and its version 1 (current).
//
// The value goes to the backend before the metadata row is written. If the row then cannot be
// written (the name was taken meanwhile), the backend keeps an unreferenced version: never
// served, removed with the name's values when a secret of that name is purged.
func (s *Service) Create(ctx context.Context, a Actor, req CreateRequest) (Secret, error) {
	if req.Backend == "" {
		req.Backend = s.opts.DefaultBackend
	}
	o := &op{action: AuditCreate, name: req.Name, backend: req.Backend}
	var out Secret
	err := s.audited(ctx, a, o, func() error {
		if err := s.checkName(req.Name, req.Backend); err != nil {
			return err
		}
		if err := s.authorize(ctx, a, ActionWrite, req.Name); err != nil {
			return err
		}
		b, ok := s.backends[req.Backend]
		if !ok {
			return fmt.Errorf("%w: %q (configured: %s)", ErrUnknownBackend, req.Backend, strings.Join(s.BackendKinds(), ", "))
		}
		if err := validateMeta(req.Description, req.Owner, req.Labels); err != nil {
			return err
		}
		if req.Rotation != nil {
			if err := s.validateRotation(req.Rotation); err != nil {
				return err
			}
		}
		if _, err := s.store.GetSecret(ctx, req.Name); err == nil {
			return fmt.Errorf("%w: %q (a deleted secret keeps its name until it is purged)", ErrSecretExists, req.Name)
		} else if !errors.Is(err, ErrSecretNotFound) {
			return err
		}
		ref, err := s.firstValue(ctx, b, req)
		if err != nil {
			return err
		}
		now := s.now()
		sec := Secret{
			ID: s.opts.NewID(), Name: req.Name, Backend: req.Backend, Description: req.Description, Owner: req.Owner,
			Labels: req.Labels, Rotation: req.Rotation, CreatedBy: a.Ref(), CreatedAt: now, UpdatedAt: now,
		}
		if sec.Labels == nil {
			sec.Labels = map[string]string{}
		}
		s.scheduleRotation(&sec, now)
		if err := s.store.CreateSecret(ctx, sec, &Version{Version: 1, BackendRef: ref, CreatedBy: a.Ref(), CreatedAt: now}); err != nil {
			return err
		}
		if err := s.promoteInBackend(ctx, b, sec, ref); err != nil {
			return err
		}
		sec.CurrentVersion = 1
		o.version = 1
		out = sec
		return nil
	})
	return out, err
}

// firstValue stores (or, for read-only backends, finds) the first version's value.
func (s *Service) firstValue(ctx context.Context, b Backend, req CreateRequest) (string, error) {
	w, writable := b.(Writer)
	if !writable {
		if req.Value != nil || req.Generate != nil {
			return "", backendErr(req.Backend, ErrReadOnly)
		}
		v, err := b.Get(ctx, req.Name, "")
		if errors.Is(err, ErrNotFound) {
			return "", invalid("name", fmt.Sprintf("the %s backend holds no value for this name; set it there first", req.Backend))
		}
		if err != nil {
			return "", backendErr(req.Backend, err)
		}
		return v.Version, nil
	}
	value := req.Value
	switch {
	case value != nil && req.Generate != nil:
		return "", invalid("value", "give a value or a generator, not both")
	case req.Generate != nil:
		var err error
		if value, err = s.generate(*req.Generate); err != nil {
			return "", err
		}
	case value == nil:
		return "", invalid("value", "a value or a generator is required")
	}
	if err := s.checkValue(b, value); err != nil {
		return "", err
	}
	ref, err := w.Put(ctx, req.Name, value)
	if err != nil {
		return "", backendErr(req.Backend, err)
	}
	return ref, nil
}

// promoteInBackend tells a backend with its own stages (AWS) which version is current.
func (s *Service) promoteInBackend(ctx context.Context, b Backend, sec Secret, ref string) error {
	if st, ok := b.(Stager); ok {
		if err := st.Promote(ctx, sec.Name, ref); err != nil {
			return backendErr(sec.Backend, err)
		}
	}
	return nil
}

func validateMeta(description, owner string, labels map[string]string) error {
	if err := validText("description", description, 1000); err != nil {
		return err
	}
	if err := validText("owner", owner, 200); err != nil {
		return err
	}
	return validLabels(labels)
}

// lookup returns a live (not deleted) secret.
func (s *Service) lookup(ctx context.Context, name string) (Secret, error) {
	sec, err := s.store.GetSecret(ctx, name)
	if err != nil {
		return Secret{}, err
	}
	if sec.Deleted() {
		return Secret{}, fmt.Errorf("%q is deleted: %w", name, ErrSecretNotFound)
	}
	return sec, nil
}

// Get returns a secret's metadata. Deleted secrets are shown (with deleted_at) to callers who
// may delete them, so they can be restored; to others they do not exist.
func (s *Service) Get(ctx context.Context, a Actor, name string) (Secret, error) {
	o := &op{action: AuditMetadata, name: name}
	var out Secret
	err := s.audited(ctx, a, o, func() error {
		if err := ValidateName(name); err != nil {
			return err
		}
		if err := s.authorize(ctx, a, ActionRead, name); err != nil {
			return err
		}
		sec, err := s.store.GetSecret(ctx, name)
		if err != nil {
			return err
		}
		o.backend = sec.Backend
		if sec.Deleted() && s.authorize(ctx, a, ActionDelete, name) != nil {
			return fmt.Errorf("%q is deleted: %w", name, ErrSecretNotFound)
		}
		out = sec
		return nil
	})
	return out, err
}

// ListQuery narrows List.
type ListQuery struct {
	Prefix  string
	Label   string // "key=value"
	Deleted bool   // list soft-deleted secrets instead
	Page    int
	PerPage int
}

// List returns the secrets the actor may read (metadata only, never values: SEC-40), by name.
func (s *Service) List(ctx context.Context, a Actor, q ListQuery) ([]Secret, int, ListQuery, error) {
	o := &op{action: AuditList, name: q.Prefix}
	var (
		page  []Secret
		total int
	)
	err := s.audited(ctx, a, o, func() error {
		if q.Page == 0 {
			q.Page = 1
		}
		if q.PerPage == 0 {
			q.PerPage = DefaultPerPage
		}
		if q.PerPage > MaxPerPage {
			return invalid("per_page", fmt.Sprintf("per_page is at most %d", MaxPerPage))
		}
		f := ListFilter{Prefix: q.Prefix, IncludeDeleted: q.Deleted}
		if q.Label != "" {
			k, v, ok := strings.Cut(q.Label, "=")
			if !ok || k == "" {
				return invalid("label", "label must be key=value")
			}
			f.LabelKey, f.LabelValue = k, v
		}
		ps, err := s.grants(ctx, a)
		if err != nil {
			return err
		}
		if ps != nil && len(ps) == 0 {
			return fmt.Errorf("%w: no policy grants this caller any secret", ErrForbidden)
		}
		all, err := s.store.ListSecrets(ctx, f)
		if err != nil {
			return err
		}
		visible := all[:0]
		for _, sec := range all {
			if sec.Deleted() != q.Deleted {
				continue
			}
			need := ActionRead
			if q.Deleted {
				need = ActionDelete
			}
			if ps == nil || allows(ps, need, sec.Name) {
				visible = append(visible, sec)
			}
		}
		total = len(visible)
		start := min((q.Page-1)*q.PerPage, total)
		page = visible[start:min(start+q.PerPage, total)]
		return nil
	})
	return page, total, q, err
}

// Revealed is a secret value with the version it belongs to.
type Revealed struct {
	Secret  Secret
	Version Version
	Value   []byte
}

// cacheEntry is what the cache keeps for one resolved read.
type cacheEntry struct {
	secret  Secret
	version Version
	value   []byte
}

// Value reads a version's value (0: the current one). The answer is given only after its
// audit record is durable (SEC-41).
func (s *Service) Value(ctx context.Context, a Actor, name string, version int) (Revealed, error) {
	o := &op{action: AuditRead, name: name}
	var out Revealed
	err := s.audited(ctx, a, o, func() error {
		if err := ValidateName(name); err != nil {
			return err
		}
		if version < 0 {
			return invalid("version", "version must be a positive integer")
		}
		if err := s.authorize(ctx, a, ActionRead, name); err != nil {
			return err
		}
		key := "current"
		if version > 0 {
			key = "v" + strconv.Itoa(version)
		}
		got, err := s.cache.Fetch(ctx, name, key, func(ctx context.Context) (any, error) {
			return s.load(ctx, name, version)
		})
		if err != nil {
			var be *BackendError
			if errors.As(err, &be) {
				o.backend = be.Backend
			}
			return err
		}
		e, ok := got.(*cacheEntry)
		if !ok {
			return errors.New("secrets: the cache returned an entry of the wrong type")
		}
		o.backend, o.version = e.secret.Backend, e.version.Version
		out = Revealed{Secret: e.secret, Version: e.version, Value: e.value}
		return nil
	})
	if err != nil {
		return Revealed{}, err
	}
	return out, nil
}

// load resolves name and version in the database and fetches the value from the backend.
func (s *Service) load(ctx context.Context, name string, version int) (any, error) {
	sec, err := s.lookup(ctx, name)
	if err != nil {
		return nil, err
	}
	v, err := s.store.GetVersion(ctx, sec.ID, version)
	if err != nil {
		return nil, fmt.Errorf("%q version %d: %w", name, version, err)
	}
	b, err := s.backend(sec.Backend)
	if err != nil {
		return nil, err
	}
	val, err := b.Get(ctx, name, v.BackendRef)
	if err != nil {
		return nil, backendErr(sec.Backend, err)
	}
	return &cacheEntry{secret: sec, version: v, value: val.Data}, nil
}

// UpdateRequest changes a secret: a new value (a new current version) and/or metadata. Nil
// fields are left alone.
type UpdateRequest struct {
	Value       []byte
	Description *string
	Owner       *string
	Labels      *map[string]string
}

// Update applies req. A new value becomes the new current version; the old current becomes
// previous.
func (s *Service) Update(ctx context.Context, a Actor, name string, req UpdateRequest) (Secret, error) {
	action := AuditUpdate
	if req.Value != nil {
		action = AuditWrite
	}
	o := &op{action: action, name: name}
	var out Secret
	err := s.audited(ctx, a, o, func() error {
		if err := ValidateName(name); err != nil {
			return err
		}
		if err := s.authorize(ctx, a, ActionWrite, name); err != nil {
			return err
		}
		if req.Value == nil && req.Description == nil && req.Owner == nil && req.Labels == nil {
			return invalid("value", "nothing to change: give a value, description, owner or labels")
		}
		sec, err := s.lookup(ctx, name)
		if err != nil {
			return err
		}
		o.backend = sec.Backend
		if req.Description != nil {
			sec.Description = *req.Description
		}
		if req.Owner != nil {
			sec.Owner = *req.Owner
		}
		if req.Labels != nil {
			sec.Labels = *req.Labels
			if sec.Labels == nil {
				sec.Labels = map[string]string{}
			}
		}
		if err := validateMeta(sec.Description, sec.Owner, sec.Labels); err != nil {
			return err
		}
		if req.Value != nil {
			v, err := s.write(ctx, a, sec, req.Value)
			if err != nil {
				return err
			}
			o.version = v.Version
			sec.CurrentVersion = v.Version
		}
		if req.Description != nil || req.Owner != nil || req.Labels != nil {
			sec.UpdatedAt = s.now()
			if err := s.store.UpdateSecret(ctx, sec); err != nil {
				return err
			}
		}
		out = sec
		return nil
	})
	return out, err
}

// write stores value as the secret's new current version.
func (s *Service) write(ctx context.Context, a Actor, sec Secret, value []byte) (Version, error) {
	b, err := s.backend(sec.Backend)
	if err != nil {
		return Version{}, err
	}
	if err := s.checkValue(b, value); err != nil {
		return Version{}, err
	}
	w, ok := b.(Writer)
	if !ok {
		return Version{}, backendErr(sec.Backend, ErrReadOnly)
	}
	ref, err := w.Put(ctx, sec.Name, value)
	if err != nil {
		return Version{}, backendErr(sec.Backend, err)
	}
	return s.addCurrent(ctx, a, sec, b, ref)
}

// addCurrent records ref as the new current version, tells a staging backend, and drops the
// cached reads of the name.
func (s *Service) addCurrent(ctx context.Context, a Actor, sec Secret, b Backend, ref string) (Version, error) {
	v, err := s.store.AddVersion(ctx, Version{SecretID: sec.ID, BackendRef: ref, Stage: StageCurrent, CreatedBy: a.Ref(), CreatedAt: s.now()})
	if err != nil {
		return Version{}, err
	}
	s.invalidate(ctx, sec.Name)
	if err := s.promoteInBackend(ctx, b, sec, ref); err != nil {
		return Version{}, err
	}
	return v, nil
}

// invalidate drops cached reads. A failure to reach other replicas is not the caller's
// failure: their entries end with the TTL.
func (s *Service) invalidate(ctx context.Context, name string) {
	_ = s.cache.Invalidate(ctx, name)
}

// Versions lists a secret's versions, oldest first (never values).
func (s *Service) Versions(ctx context.Context, a Actor, name string) ([]Version, error) {
	o := &op{action: AuditMetadata, name: name}
	var out []Version
	err := s.audited(ctx, a, o, func() error {
		if err := ValidateName(name); err != nil {
			return err
		}
		if err := s.authorize(ctx, a, ActionRead, name); err != nil {
			return err
		}
		sec, err := s.lookup(ctx, name)
		if err != nil {
			return err
		}
		o.backend = sec.Backend
		out, err = s.store.ListVersions(ctx, sec.ID)
		return err
	})
	return out, err
}

// Rollback makes the value of an earlier version current again by adding a new version that
// points at the same backend value: history only grows (version numbers never go back, the
// audit trail and "previous" stay meaningful), nothing is re-read or re-written in the
// backend, and it works for every backend that can hold the old version.
func (s *Service) Rollback(ctx context.Context, a Actor, name string, version int) (Version, error) {
	o := &op{action: AuditRollback, name: name}
	var out Version
	err := s.audited(ctx, a, o, func() error {
		if err := ValidateName(name); err != nil {
			return err
		}
		if version < 1 {
			return invalid("version", "version must be a positive integer")
		}
		if err := s.authorize(ctx, a, ActionWrite, name); err != nil {
			return err
		}
		sec, err := s.lookup(ctx, name)
		if err != nil {
			return err
		}
		o.backend = sec.Backend
		target, err := s.store.GetVersion(ctx, sec.ID, version)
		if err != nil {
			return fmt.Errorf("%q version %d: %w", name, version, err)
		}
		b, err := s.backend(sec.Backend)
		if err != nil {
			return err
		}
		// The backend must still hold it (a read-only backend keeps only its newest value).
		if _, err := b.Get(ctx, name, target.BackendRef); err != nil {
			return backendErr(sec.Backend, err)
		}
		if _, ok := b.(Writer); !ok {
			return backendErr(sec.Backend, ErrReadOnly)
		}
		v, err := s.addCurrent(ctx, a, sec, b, target.BackendRef)
		if err != nil {
			return err
		}
		o.version, out = v.Version, v
		return nil
	})
	return out, err
}

// Delete soft-deletes a secret: it disappears from reads and lists at once and is purged
// (with its values in the backend) when the recovery window has passed; until then Restore
// brings it back.
func (s *Service) Delete(ctx context.Context, a Actor, name string) (Secret, error) {
	o := &op{action: AuditDelete, name: name}
	var out Secret
	err := s.audited(ctx, a, o, func() error {
		if err := ValidateName(name); err != nil {
			return err
		}
		if err := s.authorize(ctx, a, ActionDelete, name); err != nil {
			return err
		}
		sec, err := s.lookup(ctx, name)
		if err != nil {
			return err
		}
		o.backend = sec.Backend
		now := s.now()
		purge := now.Add(s.opts.RecoveryWindow)
		sec.DeletedAt, sec.PurgeAfter, sec.UpdatedAt = &now, &purge, now
		if err := s.store.UpdateSecret(ctx, sec); err != nil {
			return err
		}
		s.invalidate(ctx, name)
		out = sec
		return nil
	})
	return out, err
}

// Restore undoes a soft delete within the recovery window.
func (s *Service) Restore(ctx context.Context, a Actor, name string) (Secret, error) {
	o := &op{action: AuditRestore, name: name}
	var out Secret
	err := s.audited(ctx, a, o, func() error {
		if err := ValidateName(name); err != nil {
			return err
		}
		if err := s.authorize(ctx, a, ActionDelete, name); err != nil {
			return err
		}
		sec, err := s.store.GetSecret(ctx, name)
		if err != nil {
			return err
		}
		o.backend = sec.Backend
		if !sec.Deleted() {
			return fmt.Errorf("%q: %w", name, ErrNotDeleted)
		}
		sec.DeletedAt, sec.PurgeAfter, sec.UpdatedAt = nil, nil, s.now()
		if err := s.store.UpdateSecret(ctx, sec); err != nil {
			return err
		}
		out = sec
		return nil
	})
	return out, err
}

// PurgeBatch bounds how many secrets one Purge pass removes.
const PurgeBatch = 100

// Purge removes soft-deleted secrets whose recovery window has passed: the backend's values
// first (a backend that is down keeps its secret for the next run), then the metadata. The
// server's scheduler calls it periodically; it returns how many secrets went.
func (s *Service) Purge(ctx context.Context) (int, error) {
	due, err := s.store.DuePurges(ctx, s.now(), PurgeBatch)
	if err != nil {
		return 0, err
	}
	sys := Actor{Type: ActorSystem}
	purged := 0
	var errs []error
	for _, sec := range due {
		o := &op{action: AuditPurge, name: sec.Name, backend: sec.Backend}
		err := s.audited(ctx, sys, o, func() error {
			if b, ok := s.backends[sec.Backend]; ok {
				if d, ok := b.(Deleter); ok {
					if err := d.Delete(ctx, sec.Name); err != nil && !errors.Is(err, ErrNotFound) {
						return backendErr(sec.Backend, err)
					}
				}
			}
			if err := s.store.DeleteSecret(ctx, sec.ID); err != nil {
				return err
			}
			s.invalidate(ctx, sec.Name)
			return nil
		})
		if err != nil {
			errs = append(errs, fmt.Errorf("purge %q: %w", sec.Name, err))
			continue
		}
		purged++
	}
	return purged, errors.Join(errs...)
}

// SecretAudit returns one page of a secret's audit trail (readers of the secret may see who
// touched it; the trail holds no values).
func (s *Service) SecretAudit(ctx context.Context, a Actor, name string, page, perPage int) ([]AuditRecord, int, AuditFilter, error) {
	f := AuditFilter{SecretName: name, Page: page, PerPage: perPage}
	var (
		out   []AuditRecord
		total int
	)
	o := &op{action: AuditMetadata, name: name}
	err := s.audited(ctx, a, o, func() error {
		if err := ValidateName(name); err != nil {
			return err
		}
		if err := s.authorize(ctx, a, ActionRead, name); err != nil {
			return err
		}
		var err error
		if f, err = pageOf(f); err != nil {
			return err
		}
		out, total, err = s.store.ListAudit(ctx, f)
		return err
	})
	return out, total, f, err
}

// AuditTrail returns one page of the whole audit trail (administrators only).
func (s *Service) AuditTrail(ctx context.Context, a Actor, f AuditFilter) ([]AuditRecord, int, AuditFilter, error) {
	if err := requireAdmin(a); err != nil {
		// Recorded like every other refusal.
		_ = s.audited(ctx, a, &op{action: AuditList}, func() error { return err })
		return nil, 0, f, err
	}
	f, err := pageOf(f)
	if err != nil {
		return nil, 0, f, err
	}
	out, total, err := s.store.ListAudit(ctx, f)
	return out, total, f, err
}

func pageOf(f AuditFilter) (AuditFilter, error) {
	if f.Page == 0 {
		f.Page = 1
	}
	if f.PerPage == 0 {
		f.PerPage = DefaultPerPage
	}
	if f.Page < 1 || f.PerPage < 1 || f.PerPage > MaxPerPage {
		return f, invalid("per_page", fmt.Sprintf("page must be positive and per_page between 1 and %d", MaxPerPage))
	}
	return f, nil
}
