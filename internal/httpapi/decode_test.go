package httpapi

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestDecodeRefusesAmbiguousBodies proves the one decoder answers 400 to a
// body that another reader of it could take for a different request.
func TestDecodeRefusesAmbiguousBodies(t *testing.T) {
	tests := []struct {
		name string
		body string
	}{
		{"CaseVariantAfterKey", `{"username":"nobody","USERNAME":"maya","password":"a long passphrase","interface":"web"}`},
		{"CaseVariantBeforeKey", `{"USERNAME":"maya","username":"nobody","password":"a long passphrase","interface":"web"}`},
		{"CaseVariantAlone", `{"Username":"maya","password":"a long passphrase","interface":"web"}`},
		{"DuplicateKey", `{"username":"nobody","username":"maya","password":"a long passphrase","interface":"web"}`},
		{"DuplicateNestedKey", `{"username":"maya","password":"a long passphrase","interface":"web","device":{"name":"a","name":"b"}}`},
		{"CaseVariantNestedKey", `{"username":"maya","password":"a long passphrase","interface":"web","device":{"NAME":"a"}}`},
		{"InvalidUTF8", "{\"username\":\"maya\xff\",\"password\":\"a long passphrase\",\"interface\":\"web\"}"},
		{"NUL", `{"username":"maya\u0000","password":"a long passphrase","interface":"web"}`},
		{"LoneSurrogate", `{"username":"maya","password":"pass\udfff","interface":"web"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("POST", "/v1/login", strings.NewReader(tt.body))
			r.Header.Set("Content-Type", "application/json")
			_, err := decode[loginRequest](httptest.NewRecorder(), r)
			if err == nil {
				t.Fatalf("decode(%q) accepted the body", tt.body)
			}
			if got := toError(err).Problem.Status; got != http.StatusBadRequest {
				t.Errorf("decode(%q) status = %d, want %d", tt.body, got, http.StatusBadRequest)
			}
		})
	}
}

// BenchmarkDecodeLogin measures what the strict pre-pass costs a login.
func BenchmarkDecodeLogin(b *testing.B) {
	body := `{"username":"alice","password":"a long passphrase","interface":"desktop","device":{"name":"Desk"}}`
	for b.Loop() {
		r := httptest.NewRequest("POST", "/v1/login", strings.NewReader(body))
		if _, err := decode[loginRequest](httptest.NewRecorder(), r); err != nil {
			b.Fatal(err)
		}
	}
}
