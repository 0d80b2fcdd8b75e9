package oauth

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/drio-gateway/gateway/caddymodule/internal/respond"
)

func TestCheckJSONShape(t *testing.T) {
	deep := strings.Repeat(`{"a":`, 10000) + "1" + strings.Repeat("}", 10000)
	deepArray := `{"a":` + strings.Repeat("[", 10000) + strings.Repeat("]", 10000) + "}"
	for _, tc := range []struct {
		name string
		body string
		ok   bool
	}{
		{"R1/valid-flat", `{"redirect_uris":["https://app.example/cb"],"token_endpoint_auth_method":"none"}`, true},
		{"R1/valid-nested", `{"a":{"b":[{"c":1},{"c":2}],"d":{"e":null}},"f":[[1,2],[3]]}`, true},
		{"R1/same-key-in-sibling-objects", `{"a":{"k":1},"b":{"k":2},"c":[{"k":1},{"k":1}]}`, true},
		{"R1/empty-object", `{}`, true},
		{"R1/surrounding-whitespace", " \n{\"a\":1}\n ", true},
		{"R1/depth-8", `{"a":{"b":{"c":{"d":{"e":{"f":{"g":{}}}}}}}}`, true},
		{"R20/depth-9", `{"a":{"b":{"c":{"d":{"e":{"f":{"g":{"h":{}}}}}}}}}`, false},
		{"R20/duplicate-top-level", `{"redirect_uris":["https://a.example/cb"],"redirect_uris":["https://evil.test/cb"]}`, false},
		{"R20/duplicate-nested", `{"a":{"b":1,"b":2}}`, false},
		{"R20/duplicate-in-array", `{"a":[{"b":1},{"b":1,"b":2}]}`, false},
		{"R20/duplicate-after-nested-value", `{"a":{"x":1},"b":[1],"a":2}`, false},
		{"R20/duplicate-escaped", `{"a":1,"\u0061":2}`, false},
		{"R20/top-level-array", `[{"a":1}]`, false},
		{"R20/top-level-string", `"x"`, false},
		{"R20/top-level-null", `null`, false},
		{"R20/two-objects", `{}{}`, false},
		{"R20/two-objects-space", `{"a":1} {"b":2}`, false},
		{"R20/trailing-garbage", `{"a":1}x`, false},
		{"R20/trailing-bracket", `{"a":1}]`, false},
		{"R20/empty-body", ``, false},
		{"R20/whitespace-body", "  \n", false},
		{"R20/malformed", `{"a":}`, false},
		{"R20/truncated-value", `{"a":1`, false},
		{"R20/truncated-key", `{"a"`, false},
		{"R20/truncated-colon", `{"a":`, false},
		{"R20/truncated-open", `{`, false},
		{"R20/truncated-nested", `{"a":[1,{"b":2}`, false},
		{"R20/mismatched-close", `{"a":[1}`, false},
		{"R20/single-quotes", `{'a':1}`, false},
		{"R20/nesting-10000", deep, false},
		{"R20/array-nesting-10000", deepArray, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := checkJSONShape([]byte(tc.body), maxJSONDepth)
			if (err == nil) != tc.ok {
				t.Errorf("checkJSONShape(%.60q) = %v, want accepted=%v", tc.body, err, tc.ok)
			}
		})
	}
}

func TestCheckJSONShapeDeepIsFast(t *testing.T) {
	body := []byte(`{"a":` + strings.Repeat("[", 1<<20))
	start := time.Now()
	err := checkJSONShape(body, maxJSONDepth)
	if err == nil {
		t.Fatalf("checkJSONShape(1 MiB of '[') = nil, want an error")
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("checkJSONShape(1 MiB of '[') took %v, want well under 1s", d)
	}
}

func TestParseUniqueQuery(t *testing.T) {
	for _, tc := range []struct {
		name string
		raw  string
		ok   bool
		want map[string]string
	}{
		{"T1/valid", "grant_type=authorization_code&code=B&code_verifier=V", true,
			map[string]string{"grant_type": "authorization_code", "code": "B", "code_verifier": "V"}},
		{"T1/encoded", "redirect_uri=https%3A%2F%2Fapp.example%2Fcb&x=a+b", true,
			map[string]string{"redirect_uri": "https://app.example/cb", "x": "a b"}},
		{"T1/empty", "", true, map[string]string{}},
		{"T13/duplicate-code", "code=a&code=b", false, nil},
		{"T13/duplicate-code-verifier", "code_verifier=a&code=x&code_verifier=a", false, nil},
		{"T13/duplicate-empty-values", "code&code", false, nil},
		{"T13/duplicate-via-encoding", "code=a&cod%65=b", false, nil},
		{"T13/bad-percent", "code=%zz", false, nil},
		{"T13/bad-percent-name", "%zz=1", false, nil},
		{"T13/truncated-percent", "code=abc%2", false, nil},
		{"T13/semicolon", "code=a;b=c", false, nil},
		{"T20/too-long", "a=" + strings.Repeat("b", maxQueryLength), false, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, oerr := parseUniqueQuery(tc.raw)
			if (oerr == nil) != tc.ok {
				t.Fatalf("parseUniqueQuery(%.60q) error = %v, want accepted=%v", tc.raw, oerr, tc.ok)
			}
			if oerr != nil {
				if oerr.Code != respond.CodeInvalidRequest || oerr.Status != http.StatusBadRequest {
					t.Errorf("parseUniqueQuery(%q) = %d %s, want 400 %s", tc.raw, oerr.Status, oerr.Code, respond.CodeInvalidRequest)
				}
				return
			}
			if len(got) != len(tc.want) {
				t.Errorf("parseUniqueQuery(%q) = %v, want %v", tc.raw, got, tc.want)
			}
			for k, v := range tc.want {
				if got.Get(k) != v {
					t.Errorf("parseUniqueQuery(%q)[%q] = %q, want %q", tc.raw, k, got.Get(k), v)
				}
			}
		})
	}
}

func TestSanitizeName(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"code", "code"},
		{"a\"b\\c d\x00e\n", "abcde"},
		{strings.Repeat("x", 50), strings.Repeat("x", 40)},
		{"<script>", "<script>"},
		{"é", ""},
	} {
		if got := sanitizeName(tc.in); got != tc.want {
			t.Errorf("sanitizeName(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// lyingBody is a reader whose length the request does not announce honestly.
type lyingBody struct {
	io.Reader
}

func TestParseForm(t *testing.T) {
	const form = "grant_type=authorization_code&code=B"
	for _, tc := range []struct {
		name        string
		ctype       string
		body        string
		contentLen  int64 // 0: as httptest sets it; -1: unknown
		wantStatus  int   // 0: accepted
		wantCodeVal string
	}{
		{"T1/form", "application/x-www-form-urlencoded", form, 0, 0, "B"},
		{"T1/form-charset", "application/x-www-form-urlencoded; charset=UTF-8", form, 0, 0, "B"},
		{"T1/form-upper-case", "Application/X-WWW-Form-URLEncoded", form, 0, 0, "B"},
		{"T1/form-unknown-length", "application/x-www-form-urlencoded", form, -1, 0, "B"},
		{"T15/json", "application/json", `{"grant_type":"authorization_code","code":"B"}`, 0, http.StatusBadRequest, ""},
		{"T15/form-suffix-X", "application/x-www-form-urlencodedX", form, 0, http.StatusBadRequest, ""},
		{"T15/form-prefix", "text/application/x-www-form-urlencoded", form, 0, http.StatusBadRequest, ""},
		{"T15/multipart", "multipart/form-data; boundary=x", "--x\r\nContent-Disposition: form-data; name=\"code\"\r\n\r\nB\r\n--x--\r\n", 0, http.StatusBadRequest, ""},
		{"T15/text-plain", "text/plain", form, 0, http.StatusBadRequest, ""},
		{"T15/no-content-type", "", form, 0, http.StatusBadRequest, ""},
		{"T15/malformed-content-type", "application/x-www-form-urlencoded; =", form, 0, http.StatusBadRequest, ""},
		{"T13/duplicate-code", "application/x-www-form-urlencoded", form + "&code=C", 0, http.StatusBadRequest, ""},
		{"T20/1MiB", "application/x-www-form-urlencoded", "a=" + strings.Repeat("b", 1<<20), 0, http.StatusRequestEntityTooLarge, ""},
		{"T20/1MiB-unknown-length", "application/x-www-form-urlencoded", "a=" + strings.Repeat("b", 1<<20), -1, http.StatusRequestEntityTooLarge, ""},
		{"T20/1MiB-length-lie-small", "application/x-www-form-urlencoded", "a=" + strings.Repeat("b", 1<<20), 10, http.StatusRequestEntityTooLarge, ""},
		{"R19/length-lie-huge", "application/x-www-form-urlencoded", form, 999999999, http.StatusRequestEntityTooLarge, ""},
		{"T20/just-over-limit", "application/x-www-form-urlencoded", "a=" + strings.Repeat("b", MaxFormBody-1), 0, http.StatusRequestEntityTooLarge, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodPost, "/api/v1/auth/token?code=Q", strings.NewReader(tc.body))
			switch tc.contentLen {
			case 0:
			case -1:
				r.Body = io.NopCloser(lyingBody{strings.NewReader(tc.body)})
				r.ContentLength = -1
			default:
				r.Body = io.NopCloser(lyingBody{strings.NewReader(tc.body)})
				r.ContentLength = tc.contentLen
			}
			if tc.ctype != "" {
				r.Header.Set("Content-Type", tc.ctype)
			}
			w := httptest.NewRecorder()
			vals, oerr := parseForm(w, r)
			if tc.wantStatus == 0 {
				if oerr != nil {
					t.Fatalf("parseForm(%q, %.40q) = %v, want accepted", tc.ctype, tc.body, oerr)
				}
				if got := vals.Get("code"); got != tc.wantCodeVal {
					t.Errorf("parseForm(%q, %.40q) code = %q, want %q (query parameters must be ignored)", tc.ctype, tc.body, got, tc.wantCodeVal)
				}
				return
			}
			if oerr == nil {
				t.Fatalf("parseForm(%q, %.40q) = %v, want status %d", tc.ctype, tc.body, vals, tc.wantStatus)
			}
			if oerr.Status != tc.wantStatus || oerr.Code != respond.CodeInvalidRequest {
				t.Errorf("parseForm(%q, %.40q) = %d %s, want %d %s", tc.ctype, tc.body, oerr.Status, oerr.Code, tc.wantStatus, respond.CodeInvalidRequest)
			}
		})
	}
}

func TestReadBodyExactLimit(t *testing.T) {
	body := bytes.Repeat([]byte("a"), MaxFormBody)
	r := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(body))
	got, oerr := readBody(httptest.NewRecorder(), r, MaxFormBody)
	if oerr != nil || len(got) != MaxFormBody {
		t.Errorf("readBody(%d bytes, limit %d) = %d bytes, %v, want %d bytes, nil", len(body), MaxFormBody, len(got), oerr, MaxFormBody)
	}
}

func TestRequireMethod(t *testing.T) {
	for _, tc := range []struct {
		name      string
		method    string
		allowed   []string
		ok        bool
		wantAllow string
	}{
		{"T14/get-token", http.MethodGet, []string{http.MethodPost}, false, "POST"},
		{"R23/get-register", http.MethodGet, []string{http.MethodPost}, false, "POST"},
		{"D4/post-well-known", http.MethodPost, []string{http.MethodGet, http.MethodHead}, false, "GET, HEAD"},
		{"D4/put-well-known", http.MethodPut, []string{http.MethodGet, http.MethodHead}, false, "GET, HEAD"},
		{"T14/lower-case-post", "post", []string{http.MethodPost}, false, "POST"},
		{"T1/post", http.MethodPost, []string{http.MethodPost}, true, ""},
		{"D1/head", http.MethodHead, []string{http.MethodGet, http.MethodHead}, true, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(tc.method, "/api/v1/auth/token", nil)
			w := httptest.NewRecorder()
			e := requireMethod(w, r, tc.allowed...)
			if got := e == nil; got != tc.ok {
				t.Fatalf("requireMethod(%q, %q) = %v, want allowed=%v", tc.method, tc.allowed, e, tc.ok)
			}
			if tc.ok {
				if w.Body.Len() != 0 || w.Header().Get("Allow") != "" {
					t.Errorf("requireMethod(%q, %q) wrote %q with Allow %q, want nothing", tc.method, tc.allowed, w.Body.String(), w.Header().Get("Allow"))
				}
				return
			}
			respond.Write(w, r, e)
			if w.Code != http.StatusMethodNotAllowed {
				t.Errorf("requireMethod(%q, %q) status = %d, want %d", tc.method, tc.allowed, w.Code, http.StatusMethodNotAllowed)
			}
			if got := w.Header().Get("Allow"); got != tc.wantAllow {
				t.Errorf("requireMethod(%q, %q) Allow = %q, want %q", tc.method, tc.allowed, got, tc.wantAllow)
			}
			if got := decodeOAuthError(t, w.Body.Bytes())["error"]; got != respond.CodeInvalidRequest {
				t.Errorf("requireMethod(%q, %q) error = %q, want %q", tc.method, tc.allowed, got, respond.CodeInvalidRequest)
			}
		})
	}
}

// decodeOAuthError parses an OAuth error body, refusing any field other than error and
// error_description.
func decodeOAuthError(t *testing.T, body []byte) map[string]string {
	t.Helper()
	var m map[string]string
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatalf("OAuth error body %q is not a JSON object of strings: %v", body, err)
	}
	for k := range m {
		if k != "error" && k != "error_description" {
			t.Errorf("OAuth error body %q has field %q, want only error and error_description", body, k)
		}
	}
	return m
}
