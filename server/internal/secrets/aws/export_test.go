package aws

import (
	"testing"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
)

// AWSCurrent reads the secret as AWS's own clients do (no version: the AWSCURRENT label).
func (b *Backend) AWSCurrent(t *testing.T, name string) string {
	t.Helper()
	out, err := b.client.GetSecretValue(t.Context(), &secretsmanager.GetSecretValueInput{SecretId: awssdk.String(name)})
	if err != nil {
		t.Fatal(err)
	}
	return awssdk.ToString(out.SecretString)
}

// ScheduleDeletion deletes with the service's default recovery window, as another AWS client
// would.
func (b *Backend) ScheduleDeletion(t *testing.T, name string) {
	t.Helper()
	if _, err := b.client.DeleteSecret(t.Context(), &secretsmanager.DeleteSecretInput{SecretId: awssdk.String(name)}); err != nil {
		t.Fatal(err)
	}
}
