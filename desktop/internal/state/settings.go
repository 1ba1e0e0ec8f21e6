package state

import (
	"encoding/json"
	"slices"
	"strings"
)

// Prefs is the part of fyne.Preferences the console uses (an in-memory map in tests).
type Prefs interface {
	String(key string) string
	SetString(key, value string)
	Float(key string) float64
	SetFloat(key string, value float64)
	Bool(key string) bool
	SetBool(key string, value bool)
}

// Preference keys.
const (
	prefProfiles = "profiles"
	prefWidth    = "window.width"
	prefHeight   = "window.height"
	prefDark     = "theme.dark"
	prefThemeSet = "theme.set"
	maxProfiles  = 8
)

// Profile is a server the console signed in to, most recent first. Passwords are never kept.
type Profile struct {
	Server string `json:"server"`
	Email  string `json:"email"`
}

// Settings are the console's remembered choices.
type Settings struct{ p Prefs }

// NewSettings reads and writes through p.
func NewSettings(p Prefs) *Settings { return &Settings{p: p} }

// Profiles lists remembered servers, most recent first.
func (s *Settings) Profiles() []Profile {
	var out []Profile
	if raw := s.p.String(prefProfiles); raw != "" {
		if err := json.Unmarshal([]byte(raw), &out); err != nil {
			return nil // a damaged preference is forgotten, not fatal
		}
	}
	return out
}

// Servers lists the remembered server URLs, most recent first.
func (s *Settings) Servers() []string {
	ps := s.Profiles()
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.Server
	}
	return out
}

// Remember puts server (with the email used there) first in the list.
func (s *Settings) Remember(server, email string) {
	ps := slices.DeleteFunc(s.Profiles(), func(p Profile) bool { return strings.EqualFold(p.Server, server) })
	ps = append([]Profile{{Server: server, Email: email}}, ps...)
	if len(ps) > maxProfiles {
		ps = ps[:maxProfiles]
	}
	b, err := json.Marshal(ps)
	if err != nil {
		return
	}
	s.p.SetString(prefProfiles, string(b))
}

// Last is the most recently used profile.
func (s *Settings) Last() Profile {
	if ps := s.Profiles(); len(ps) > 0 {
		return ps[0]
	}
	return Profile{}
}

// EmailFor is the email last used on server.
func (s *Settings) EmailFor(server string) string {
	for _, p := range s.Profiles() {
		if strings.EqualFold(p.Server, server) {
			return p.Email
		}
	}
	return ""
}

// WindowSize is the remembered size, or the default when none (or a silly one) is stored.
func (s *Settings) WindowSize() (w, h float32) {
	fw, fh := s.p.Float(prefWidth), s.p.Float(prefHeight)
	if fw < 640 || fh < 480 || fw > 10000 || fh > 10000 {
		return 1280, 800
	}
	return float32(fw), float32(fh)
}

// SetWindowSize remembers the window's size.
func (s *Settings) SetWindowSize(w, h float32) {
	s.p.SetFloat(prefWidth, float64(w))
	s.p.SetFloat(prefHeight, float64(h))
}

// Dark reports the chosen theme; ok is false until the user chose one (follow the system).
func (s *Settings) Dark() (dark, ok bool) {
	return s.p.Bool(prefDark), s.p.Bool(prefThemeSet)
}

// SetDark remembers the chosen theme.
func (s *Settings) SetDark(dark bool) {
	s.p.SetBool(prefDark, dark)
	s.p.SetBool(prefThemeSet, true)
}

// MemPrefs is an in-memory Prefs, for tests and for a console without storage.
type MemPrefs struct {
	Strings map[string]string
	Floats  map[string]float64
	Bools   map[string]bool
}

// NewMemPrefs is an empty MemPrefs.
func NewMemPrefs() *MemPrefs {
	return &MemPrefs{Strings: map[string]string{}, Floats: map[string]float64{}, Bools: map[string]bool{}}
}

func (m *MemPrefs) String(k string) string       { return m.Strings[k] }
func (m *MemPrefs) SetString(k, v string)        { m.Strings[k] = v }
func (m *MemPrefs) Float(k string) float64       { return m.Floats[k] }
func (m *MemPrefs) SetFloat(k string, v float64) { m.Floats[k] = v }
func (m *MemPrefs) Bool(k string) bool           { return m.Bools[k] }
func (m *MemPrefs) SetBool(k string, v bool)     { m.Bools[k] = v }
