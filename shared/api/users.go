package api

import "time"

// Roles (architecture.md, "Roles").
const (
	RoleAdmin   = "admin"
	RoleSupport = "support"
	RoleUser    = "user"
)

// Account statuses.
const (
	UserActive   = "active"
	UserLocked   = "locked"
	UserDisabled = "disabled"
)

// User is an account as the API shows it; the password hash never leaves the server.
type User struct {
	ID            string     `json:"id"`
	Email         string     `json:"email"`
	DisplayName   string     `json:"display_name"`
	Roles         []string   `json:"roles"`
	Status        string     `json:"status"`
	EmailVerified bool       `json:"email_verified"`
	HasPassword   bool       `json:"has_password"`
	AvatarURL     string     `json:"avatar_url,omitempty"` // from a social login's profile
	CreatedAt     time.Time  `json:"created_at"`
	UpdatedAt     time.Time  `json:"updated_at"`
	LastLoginAt   *time.Time `json:"last_login_at,omitempty"`
	// MFA is the account's second-factor state; only GET /api/v1/admin/users/{id} fills it.
	MFA *MFAStatus `json:"mfa,omitempty"`
	// MFASummary is the second factors at a glance; the admin user list and the account
	// endpoint fill it (the list with one batched look-up per page).
	MFASummary *MFASummary `json:"mfa_summary,omitempty"`
}

// MFASummary says which second factors an account can sign in with.
type MFASummary struct {
	Enrolled bool     `json:"enrolled"`
	Factors  []string `json:"factors"` // enrolled factors, in the server's order
	Required bool     `json:"required"`
}

// UserList is one page of GET /api/v1/admin/users.
type UserList struct {
	Users   []User `json:"users"`
	Page    int    `json:"page"`
	PerPage int    `json:"per_page"`
	Total   int    `json:"total"`
}

// UserQuery filters GET /api/v1/admin/users.
type UserQuery struct {
	Query   string
	Status  string
	Role    string
	Page    int
	PerPage int
}

// CreateUserRequest is the body of POST /api/v1/admin/users.
type CreateUserRequest struct {
	Email       string   `json:"email"`
	DisplayName string   `json:"display_name"`
	Password    string   `json:"password"`
	Roles       []string `json:"roles"`
}

// UpdateUserRequest is the body of PATCH /api/v1/admin/users/{id}; absent fields are unchanged.
type UpdateUserRequest struct {
	DisplayName *string   `json:"display_name,omitempty"`
	Roles       *[]string `json:"roles,omitempty"`
	Status      *string   `json:"status,omitempty"`
}

// UpdateMeRequest is the body of PATCH /api/v1/me.
type UpdateMeRequest struct {
	DisplayName *string `json:"display_name,omitempty"`
}

// ChangePasswordRequest is the body of POST /api/v1/me/password.
type ChangePasswordRequest struct {
	CurrentPassword string `json:"current_password"`
	NewPassword     string `json:"new_password"`
}
