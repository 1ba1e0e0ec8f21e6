package gcptest_test

import (
	"hash/crc32"
	"testing"

	secretmanager "cloud.google.com/go/secretmanager/apiv1"
	"cloud.google.com/go/secretmanager/apiv1/secretmanagerpb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"gatehouse/server/internal/secrets/gcp/gcptest"
)

func TestServiceSemantics(t *testing.T) {
	srv := gcptest.Start(t)
	c, err := secretmanager.NewClient(t.Context(), srv.ClientOptions()...)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := t.Context()
	parent := "projects/" + gcptest.Project
	secret := parent + "/secrets/s"

	if _, err := c.CreateSecret(ctx, &secretmanagerpb.CreateSecretRequest{Parent: parent, SecretId: "s", Secret: &secretmanagerpb.Secret{}}); status.Code(err) != codes.InvalidArgument {
		t.Fatalf("CreateSecret without replication: %v", err)
	}
	auto := &secretmanagerpb.Replication{Replication: &secretmanagerpb.Replication_Automatic_{Automatic: &secretmanagerpb.Replication_Automatic{}}}
	if _, err := c.CreateSecret(ctx, &secretmanagerpb.CreateSecretRequest{Parent: parent, SecretId: "s", Secret: &secretmanagerpb.Secret{Replication: auto}}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateSecret(ctx, &secretmanagerpb.CreateSecretRequest{Parent: parent, SecretId: "s", Secret: &secretmanagerpb.Secret{Replication: auto}}); status.Code(err) != codes.AlreadyExists {
		t.Fatalf("second CreateSecret: %v", err)
	}
	bad := int64(12345)
	if _, err := c.AddSecretVersion(ctx, &secretmanagerpb.AddSecretVersionRequest{Parent: secret, Payload: &secretmanagerpb.SecretPayload{Data: []byte("x"), DataCrc32C: &bad}}); status.Code(err) != codes.InvalidArgument {
		t.Fatalf("AddSecretVersion with a wrong checksum: %v", err)
	}
	for _, d := range []string{"one", "two"} {
		if _, err := c.AddSecretVersion(ctx, &secretmanagerpb.AddSecretVersionRequest{Parent: secret, Payload: &secretmanagerpb.SecretPayload{Data: []byte(d)}}); err != nil {
			t.Fatal(err)
		}
	}
	resp, err := c.AccessSecretVersion(ctx, &secretmanagerpb.AccessSecretVersionRequest{Name: secret + "/versions/latest"})
	if err != nil || string(resp.GetPayload().GetData()) != "two" || resp.GetName() != secret+"/versions/2" {
		t.Fatalf("latest = %v, %v", resp, err)
	}
	if want := int64(crc32.Checksum([]byte("two"), crc32.MakeTable(crc32.Castagnoli))); resp.GetPayload().GetDataCrc32C() != want {
		t.Fatalf("data_crc32c = %d, want %d", resp.GetPayload().GetDataCrc32C(), want)
	}
	if _, err := c.AccessSecretVersion(ctx, &secretmanagerpb.AccessSecretVersionRequest{Name: secret + "/versions/3"}); status.Code(err) != codes.NotFound {
		t.Fatalf("unknown version: %v", err)
	}
	if _, err := c.AccessSecretVersion(ctx, &secretmanagerpb.AccessSecretVersionRequest{Name: parent + "/secrets/nope/versions/latest"}); status.Code(err) != codes.NotFound {
		t.Fatalf("unknown secret: %v", err)
	}
	if _, err := c.GetSecret(ctx, &secretmanagerpb.GetSecretRequest{Name: "projects/other/secrets/s"}); status.Code(err) != codes.PermissionDenied {
		t.Fatalf("other project: %v", err)
	}
	if err := c.DeleteSecret(ctx, &secretmanagerpb.DeleteSecretRequest{Name: secret}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.GetSecret(ctx, &secretmanagerpb.GetSecretRequest{Name: secret}); status.Code(err) != codes.NotFound {
		t.Fatalf("deleted secret: %v", err)
	}
}
