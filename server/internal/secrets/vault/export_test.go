package vault

// CurrentToken is the token the backend sends now ("" before an AppRole login), so tests can
// tell a renewal (same token) from a new login (another one).
func (b *Backend) CurrentToken() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.client == nil {
		return ""
	}
	return b.client.Token()
}
