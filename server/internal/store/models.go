package store

// Models lists every row type with the table it maps to. The schema-parity test checks that
// the migrated schema and these models agree, column for column, on both dialects; a new row
// type must be added here.
func Models() []any {
	return []any{
		&keyringKDFRow{},
		&keyringKeyRow{},
		&mfaChannelRow{},
		&mfaCodeRow{},
		&mfaPendingRow{},
		&mfaRecoveryCodeRow{},
		&mfaTOTPRow{},
		&sessionRow{},
		&refreshTokenRow{},
		&signingKeyRow{},
		&trustedDeviceRow{},
		&securityEventRow{},
		&secretRow{},
		&secretLabelRow{},
		&secretVersionRow{},
		&secretValueRow{},
		&secretAuditRow{},
		&secretPolicyRow{},
		&serviceAccountRow{},
		&serviceAccountTokenRow{},
		&userRow{},
		&userRoleRow{},
		&oauthProviderRow{},
		&userIdentityRow{},
		&oauthFlowRow{},
		&oauthExchangeCodeRow{},
	}
}
