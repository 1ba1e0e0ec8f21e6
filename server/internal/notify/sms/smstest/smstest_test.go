package smstest_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"gatehouse/server/internal/notify/sms/smstest"
)

func post(t *testing.T, target string, form url.Values, auth bool, contentType string) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, target, strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", contentType)
	if auth {
		req.SetBasicAuth(smstest.AccountSID, smstest.AuthToken)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&body)
	return resp.StatusCode, body
}

func TestFakeSpeaksTwilioErrors(t *testing.T) {
	fake := smstest.Start(t)
	messages := fake.URL + "/2010-04-01/Accounts/" + smstest.AccountSID + "/Messages.json"
	form := url.Values{"To": {"+16502530000"}, "From": {"+15017122661"}, "Body": {"hi"}}
	formCT := "application/x-www-form-urlencoded"

	tests := []struct {
		name   string
		target string
		form   url.Values
		auth   bool
		ct     string
		status int
		code   float64
	}{
		{"unknown path", fake.URL + "/2010-04-01/Accounts/" + smstest.AccountSID + "/Calls.json", form, true, formCT, 404, 20404},
		{"no auth", messages, form, false, formCT, 401, 20003},
		{"other account in path", strings.Replace(messages, smstest.AccountSID, "AC"+strings.Repeat("f", 32), 1), form, true, formCT, 401, 20003},
		{"JSON body", messages, form, true, "application/json", 400, 20001},
		{"no To", messages, url.Values{"From": {"+15017122661"}, "Body": {"hi"}}, true, formCT, 400, 21604},
		{"no sender", messages, url.Values{"To": {"+16502530000"}, "Body": {"hi"}}, true, formCT, 400, 21603},
		{"no body", messages, url.Values{"To": {"+16502530000"}, "From": {"+15017122661"}}, true, formCT, 400, 21602},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			status, body := post(t, tc.target, tc.form, tc.auth, tc.ct)
			if status != tc.status || body["code"] != tc.code || body["status"] != float64(tc.status) {
				t.Errorf("got %d %v, want %d code %v", status, body, tc.status, tc.code)
			}
			if info, _ := body["more_info"].(string); !strings.HasPrefix(info, "https://www.twilio.com/docs/errors/") {
				t.Errorf("more_info = %v", body["more_info"])
			}
		})
	}

	status, body := post(t, messages, form, true, formCT)
	if status != http.StatusCreated || body["status"] != "queued" || body["to"] != "+16502530000" ||
		body["direction"] != "outbound-api" || body["date_created"] == "" {
		t.Errorf("create: %d %v", status, body)
	}
	if n := len(fake.Messages()); n != 1 {
		t.Errorf("recorded %d messages, want 1", n)
	}
	fake.Reset()
	if len(fake.Messages()) != 0 || fake.Requests() != 0 {
		t.Error("Reset kept state")
	}
}
