package awstest_test

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"gatehouse/server/internal/secrets/aws/awstest"
)

// call sends one AWS JSON 1.1 request, signed with the SDK's own SigV4 signer unless sign is
// nil, and returns the status and decoded body.
func call(t *testing.T, srv *awstest.Server, op, body string, sign func(*http.Request, string)) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, srv.URL+"/", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	req.Header.Set("X-Amz-Target", "secretsmanager."+op)
	if sign != nil {
		sign(req, body)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out map[string]any
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatalf("%s: body %q is not JSON: %v", op, raw, err)
	}
	return resp.StatusCode, out
}

func signer(keyID, secret, region, service string) func(*http.Request, string) {
	return func(req *http.Request, body string) {
		sum := sha256.Sum256([]byte(body))
		creds := awssdk.Credentials{AccessKeyID: keyID, SecretAccessKey: secret}
		if err := v4.NewSigner().SignHTTP(req.Context(), creds, req, hex.EncodeToString(sum[:]), service, region, time.Now()); err != nil {
			panic(err)
		}
	}
}

var good = signer(awstest.AccessKeyID, awstest.SecretAccessKey, awstest.Region, "secretsmanager")

func TestSignatureChecked(t *testing.T) {
	srv := awstest.Start(t)
	const body = `{"Name":"sig","SecretString":"v"}`
	for _, tc := range []struct {
		name     string
		sign     func(*http.Request, string)
		wantType string
	}{
		{"unsigned", nil, "MissingAuthenticationTokenException"},
		{"wrong-service", signer(awstest.AccessKeyID, awstest.SecretAccessKey, awstest.Region, "kms"), "InvalidSignatureException"},
		{"wrong-region", signer(awstest.AccessKeyID, awstest.SecretAccessKey, "us-west-2", "secretsmanager"), "InvalidSignatureException"},
		{"unknown-key", signer("AKIAUNKNOWN000000001", awstest.SecretAccessKey, awstest.Region, "secretsmanager"), "UnrecognizedClientException"},
		{"wrong-secret", signer(awstest.AccessKeyID, "wrong", awstest.Region, "secretsmanager"), "InvalidSignatureException"},
		{"tampered-body", func(r *http.Request, _ string) {
			good(r, body)
			tampered := `{"Name":"sig","SecretString":"w"}`
			r.Body = io.NopCloser(strings.NewReader(tampered))
		}, "InvalidSignatureException"},
		{"malformed", func(r *http.Request, _ string) { r.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=x") }, "IncompleteSignatureException"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, out := call(t, srv, "CreateSecret", body, tc.sign)
			if status != http.StatusBadRequest || out["__type"] != tc.wantType {
				t.Fatalf("got %d %v, want 400 %s", status, out, tc.wantType)
			}
		})
	}
	if calls := srv.Calls(); len(calls) != 0 {
		t.Fatalf("refused requests reached operations: %v", calls)
	}
	status, out := call(t, srv, "CreateSecret", body, good)
	if status != http.StatusOK || out["Name"] != "sig" {
		t.Fatalf("signed request: %d %v", status, out)
	}
}

func TestStagingRules(t *testing.T) {
	srv := awstest.Start(t)
	put := func(value string, stages ...string) string {
		in := map[string]any{"SecretId": "s", "SecretString": value}
		if len(stages) > 0 {
			in["VersionStages"] = stages
		}
		raw, _ := json.Marshal(in)
		status, out := call(t, srv, "PutSecretValue", string(raw), good)
		if status != http.StatusOK {
			t.Fatalf("PutSecretValue: %d %v", status, out)
		}
		return out["VersionId"].(string)
	}
	if status, out := call(t, srv, "CreateSecret", `{"Name":"s","SecretString":"v0","ClientRequestToken":"00000000-0000-4000-8000-000000000001"}`, good); status != http.StatusOK {
		t.Fatalf("CreateSecret: %d %v", status, out)
	}
	v1 := put("v1")
	if got := srv.Stages("s"); got[v1][0] != "AWSCURRENT" || got["00000000-0000-4000-8000-000000000001"][0] != "AWSPREVIOUS" {
		t.Fatalf("after put: %v", got)
	}
	pending := put("v2", "AWSPENDING")
	// Moving AWSCURRENT needs RemoveFromVersionId naming its holder.
	status, out := call(t, srv, "UpdateSecretVersionStage", `{"SecretId":"s","VersionStage":"AWSCURRENT","MoveToVersionId":"`+pending+`"}`, good)
	if status != http.StatusBadRequest || out["__type"] != "InvalidParameterException" {
		t.Fatalf("move without RemoveFromVersionId: %d %v", status, out)
	}
	status, _ = call(t, srv, "UpdateSecretVersionStage", `{"SecretId":"s","VersionStage":"AWSCURRENT","MoveToVersionId":"`+pending+`","RemoveFromVersionId":"`+v1+`"}`, good)
	if status != http.StatusOK {
		t.Fatalf("move: %d", status)
	}
	got := srv.Stages("s")
	if strings.Join(got[pending], ",") != "AWSPENDING,AWSCURRENT" || strings.Join(got[v1], ",") != "AWSPREVIOUS" || len(got) != 2 {
		t.Fatalf("after move: %v", got)
	}
	// Unknown secrets and deleted ones answer like AWS.
	status, out = call(t, srv, "GetSecretValue", `{"SecretId":"nope"}`, good)
	if status != http.StatusBadRequest || out["__type"] != "ResourceNotFoundException" {
		t.Fatalf("unknown: %d %v", status, out)
	}
	if status, _ = call(t, srv, "DeleteSecret", `{"SecretId":"s","RecoveryWindowInDays":7}`, good); status != http.StatusOK {
		t.Fatalf("delete: %d", status)
	}
	status, out = call(t, srv, "GetSecretValue", `{"SecretId":"s"}`, good)
	if status != http.StatusBadRequest || out["__type"] != "InvalidRequestException" {
		t.Fatalf("scheduled for deletion: %d %v", status, out)
	}
}

func TestIdempotentToken(t *testing.T) {
	srv := awstest.Start(t)
	call(t, srv, "CreateSecret", `{"Name":"i","SecretString":"a"}`, good)
	const tok = `"ClientRequestToken":"11111111-1111-4111-8111-111111111111"`
	s1, o1 := call(t, srv, "PutSecretValue", `{"SecretId":"i","SecretString":"b",`+tok+`}`, good)
	s2, o2 := call(t, srv, "PutSecretValue", `{"SecretId":"i","SecretString":"b",`+tok+`}`, good)
	if s1 != 200 || s2 != 200 || o1["VersionId"] != o2["VersionId"] {
		t.Fatalf("retry with the same token: %d %v / %d %v", s1, o1, s2, o2)
	}
	s3, o3 := call(t, srv, "PutSecretValue", `{"SecretId":"i","SecretString":"c",`+tok+`}`, good)
	if s3 != 400 || o3["__type"] != "ResourceExistsException" {
		t.Fatalf("same token, other value: %d %v", s3, o3)
	}
}
