package api

// JWKS is the body of GET /.well-known/jwks.json: the public keys that verify Gatehouse access
// tokens (RFC 7517). Apps that verify tokens offline fetch it, pick the key whose Kid matches the
// token's "kid" header, and check the Ed25519 signature with X. The set lists every key whose
// tokens may still be valid, so a key stays here for a while after it stops signing.
type JWKS struct {
	Keys []JWK `json:"keys"`
}

// JWK is one public signing key (RFC 7517, with RFC 8037 for Ed25519).
type JWK struct {
	// Kty is the key type: "OKP" (octet key pair) for Ed25519.
	Kty string `json:"kty"`
	// Crv is the curve: "Ed25519".
	Crv string `json:"crv"`
	// X is the raw 32-byte public key, base64url without padding.
	X string `json:"x"`
	// Kid identifies the key; tokens name it in their "kid" header.
	Kid string `json:"kid"`
	// Alg is the JWS algorithm the key is used with: "EdDSA".
	Alg string `json:"alg"`
	// Use is "sig": the key verifies signatures.
	Use string `json:"use"`
}
