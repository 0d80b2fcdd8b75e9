package resource_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"go.uber.org/goleak"

	"github.com/drio-gateway/gateway/upstream-mock/resource"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

var uuidRE = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)

// user returns identity headers as the gateway would set them.
func user(id string) http.Header {
	h := http.Header{}
	h.Set(resource.HeaderUserID, id)
	h.Set(resource.HeaderOrgID, "org_1")
	h.Set(resource.HeaderSessionID, "session_"+id)
	h.Set(resource.HeaderUserEmail, id+"@example.com")
	h.Set(resource.HeaderUserRole, "admin")
	h.Set(resource.HeaderPermissions, "apps:read, apps:write")
	return h
}

type result struct {
	status int
	header http.Header
	body   map[string]any
	raw    string
}

func do(t *testing.T, s *resource.Server, method, path string, h http.Header, body string) result {
	t.Helper()
	var req *http.Request
	if body != "" {
		req = httptest.NewRequest(method, path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
	} else {
		req = httptest.NewRequest(method, path, nil)
	}
	for k, v := range h {
		req.Header[k] = v
	}
	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, req)
	r := result{status: rec.Code, header: rec.Header(), raw: rec.Body.String()}
	if rec.Body.Len() > 0 && strings.HasPrefix(rec.Header().Get("Content-Type"), "application/json") {
		if err := json.Unmarshal(rec.Body.Bytes(), &r.body); err != nil {
			t.Fatalf("%s %s: body %q: %v", method, path, rec.Body.String(), err)
		}
	}
	return r
}

// wantError checks the drio v1 envelope.
func wantError(t *testing.T, r result, status int, code string) map[string]any {
	t.Helper()
	if r.status != status {
		t.Fatalf("status = %d, want %d (%s)", r.status, status, r.raw)
	}
	if !strings.HasPrefix(r.header.Get("Content-Type"), "application/json") {
		t.Fatalf("Content-Type = %q", r.header.Get("Content-Type"))
	}
	e, ok := r.body["error"].(map[string]any)
	if !ok || len(r.body) != 1 {
		t.Fatalf("not an envelope: %s", r.raw)
	}
	for _, k := range []string{"code", "message", "details", "requestId"} {
		if _, ok := e[k]; !ok {
			t.Fatalf("envelope lacks %q: %s", k, r.raw)
		}
	}
	if e["code"] != code {
		t.Fatalf("code = %v, want %s (%s)", e["code"], code, r.raw)
	}
	if e["requestId"] == "" || e["requestId"] != r.header.Get("X-Request-Id") {
		t.Fatalf("requestId %v vs header %q", e["requestId"], r.header.Get("X-Request-Id"))
	}
	return e
}

func createApp(t *testing.T, s *resource.Server, uid, body string) map[string]any {
	t.Helper()
	r := do(t, s, "POST", "/api/v1/apps", user(uid), body)
	if r.status != 201 {
		t.Fatalf("create: %d %s", r.status, r.raw)
	}
	return r.body["app"].(map[string]any)
}

func TestTemplatesArePublic(t *testing.T) {
	s := resource.New()
	r := do(t, s, "GET", "/api/v1/templates", nil, "")
	if r.status != 200 {
		t.Fatalf("list: %d", r.status)
	}
	list := r.body["templates"].([]any)
	ids := []string{}
	for _, x := range list {
		m := x.(map[string]any)
		for _, k := range []string{"id", "name", "description", "category"} {
			if m[k] == "" || m[k] == nil {
				t.Errorf("template lacks %s: %v", k, m)
			}
		}
		ids = append(ids, m["id"].(string))
	}
	if strings.Join(ids, ",") != "support,crm,analytics" {
		t.Errorf("ids = %v", ids)
	}
	r = do(t, s, "GET", "/api/v1/templates/crm", nil, "")
	if r.status != 200 || r.body["template"].(map[string]any)["id"] != "crm" {
		t.Errorf("get crm: %d %s", r.status, r.raw)
	}
	e := wantError(t, do(t, s, "GET", "/api/v1/templates/nope", nil, ""), 404, "not_found")
	if e["message"] != "Template not found" || e["details"] != nil {
		t.Errorf("envelope = %v", e)
	}
	wantError(t, do(t, s, "POST", "/api/v1/templates", nil, "{}"), 405, "bad_request")
}

func TestProtectedRoutesRequireIdentity(t *testing.T) {
	s := resource.New()
	routes := []struct{ method, path string }{
		{"GET", "/api/v1/me"},
		{"GET", "/api/v1/apps"},
		{"POST", "/api/v1/apps"},
		{"GET", "/api/v1/apps/app_x"},
		{"PATCH", "/api/v1/apps/app_x"},
		{"DELETE", "/api/v1/apps/app_x"},
		{"GET", "/api/v1/apps/app_x/config"},
		{"PUT", "/api/v1/apps/app_x/config"},
		{"POST", "/api/v1/apps/app_x/commands"},
		{"GET", "/api/v1/apps/app_x/tools"},
	}
	for _, rt := range routes {
		// An Authorization header alone must not be trusted.
		h := http.Header{"Authorization": {"Bearer anything"}}
		e := wantError(t, do(t, s, rt.method, rt.path, h, ""), 401, "unauthorized")
		if e["message"] != "Missing or invalid bearer token" {
			t.Errorf("%s %s: message %v", rt.method, rt.path, e["message"])
		}
	}
}

func TestRequestID(t *testing.T) {
	s := resource.New()
	h := http.Header{"X-Request-Id": {"req-abc-123"}}
	r := do(t, s, "GET", "/api/v1/me", h, "")
	e := wantError(t, r, 401, "unauthorized")
	if e["requestId"] != "req-abc-123" || r.header.Get("X-Request-Id") != "req-abc-123" {
		t.Errorf("request id not echoed: %v %q", e["requestId"], r.header.Get("X-Request-Id"))
	}
	r = do(t, s, "GET", "/api/v1/nothing-here", nil, "")
	e = wantError(t, r, 404, "not_found")
	if !uuidRE.MatchString(e["requestId"].(string)) {
		t.Errorf("generated request id %v is not a uuid", e["requestId"])
	}
	if r := do(t, s, "GET", "/api/v1/templates", nil, ""); !uuidRE.MatchString(r.header.Get("X-Request-Id")) {
		t.Errorf("success response lacks X-Request-Id")
	}
}

func TestMe(t *testing.T) {
	s := resource.New()
	r := do(t, s, "GET", "/api/v1/me", user("user_1"), "")
	if r.status != 200 {
		t.Fatalf("me: %d %s", r.status, r.raw)
	}
	u := r.body["user"].(map[string]any)
	want := map[string]any{"id": "user_1", "email": "user_1@example.com", "organizationId": "org_1", "role": "admin", "sessionId": "session_user_1"}
	for k, v := range want {
		if u[k] != v {
			t.Errorf("%s = %v, want %v", k, u[k], v)
		}
	}
	if p, _ := u["permissions"].([]any); len(p) != 2 || p[0] != "apps:read" || p[1] != "apps:write" {
		t.Errorf("permissions = %v", u["permissions"])
	}
	// Only the user id: the rest is null / empty.
	r = do(t, s, "GET", "/api/v1/me", http.Header{resource.HeaderUserID: {"user_2"}}, "")
	u = r.body["user"].(map[string]any)
	if u["organizationId"] != nil || u["role"] != nil || len(u["permissions"].([]any)) != 0 {
		t.Errorf("bare me = %v", u)
	}
	wantError(t, do(t, s, "POST", "/api/v1/me", user("user_1"), "{}"), 405, "bad_request")

	m, p, h := s.LastRequest()
	if m != "POST" || p != "/api/v1/me" || h.Get(resource.HeaderUserID) != "user_1" {
		t.Errorf("LastRequest = %s %s %v", m, p, h)
	}
	if s.Requests() != 3 {
		t.Errorf("Requests = %d", s.Requests())
	}
}

func TestCreateApp(t *testing.T) {
	s := resource.New()
	a := createApp(t, s, "user_1", `{"templateId":"support","name":"  Acme Help  ","companyUrl":"https://acme.example","branding":{"primaryColor":"#112233"}}`)
	if !strings.HasPrefix(a["id"].(string), "app_") || !strings.HasPrefix(a["publicMcpId"].(string), "mcp_") {
		t.Errorf("ids = %v %v", a["id"], a["publicMcpId"])
	}
	want := map[string]any{"name": "Acme Help", "slug": "acme-help", "version": "1.0.0", "status": "draft",
		"templateId": "support", "companyUrl": "https://acme.example", "isEnabled": true, "serverInstructions": ""}
	for k, v := range want {
		if a[k] != v {
			t.Errorf("%s = %v, want %v", k, a[k], v)
		}
	}
	b := a["branding"].(map[string]any)
	if b["primaryColor"] != "#112233" || b["fontFamily"] != "Geist" || b["borderRadius"] != "lg" || b["accentColor"] == "" {
		t.Errorf("branding = %v", b)
	}
	if a["createdAt"] == "" || a["createdAt"] != a["updatedAt"] {
		t.Errorf("timestamps = %v %v", a["createdAt"], a["updatedAt"])
	}
	// Same name again: a distinct slug.
	a2 := createApp(t, s, "user_1", `{"templateId":"crm","name":"Acme Help"}`)
	if a2["slug"] != "acme-help-2" {
		t.Errorf("second slug = %v", a2["slug"])
	}
	a3 := createApp(t, s, "user_1", `{"templateId":"analytics","name":"X","slug":"custom-slug"}`)
	if a3["slug"] != "custom-slug" {
		t.Errorf("explicit slug = %v", a3["slug"])
	}

	cases := []struct {
		name, body, code string
		status           int
		fields           []string
	}{
		{"missing name", `{"templateId":"support"}`, "validation_error", 400, []string{"name"}},
		{"blank name", `{"templateId":"support","name":"   "}`, "validation_error", 400, []string{"name"}},
		{"long name", `{"templateId":"support","name":"` + strings.Repeat("n", 101) + `"}`, "validation_error", 400, []string{"name"}},
		{"unknown template", `{"templateId":"nope","name":"A"}`, "validation_error", 400, []string{"templateId"}},
		{"missing everything", `{}`, "validation_error", 400, []string{"templateId", "name"}},
		{"bad slug", `{"templateId":"support","name":"A","slug":"Not A Slug"}`, "validation_error", 400, []string{"slug"}},
		{"taken slug", `{"templateId":"support","name":"A","slug":"custom-slug"}`, "validation_error", 400, []string{"slug"}},
		{"bad url", `{"templateId":"support","name":"A","companyUrl":"ftp://x"}`, "validation_error", 400, []string{"companyUrl"}},
		{"bad color", `{"templateId":"support","name":"A","branding":{"accentColor":"red"}}`, "validation_error", 400, []string{"branding.accentColor"}},
		{"wrong type", `{"templateId":"support","name":42}`, "validation_error", 400, []string{"name"}},
		{"not an object", `["a"]`, "validation_error", 400, nil},
		{"malformed", `{"templateId":`, "bad_request", 400, nil},
		{"trailing garbage", `{"name":"a"} x`, "bad_request", 400, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := wantError(t, do(t, s, "POST", "/api/v1/apps", user("user_1"), c.body), c.status, c.code)
			if c.fields == nil {
				return
			}
			details, ok := e["details"].([]any)
			if !ok {
				t.Fatalf("details = %v", e["details"])
			}
			var got []string
			for _, d := range details {
				got = append(got, d.(map[string]any)["field"].(string))
			}
			if strings.Join(got, ",") != strings.Join(c.fields, ",") {
				t.Errorf("fields = %v, want %v", got, c.fields)
			}
		})
	}

	big := `{"templateId":"support","name":"A","description":"` + strings.Repeat("x", 1<<20) + `"}`
	wantError(t, do(t, s, "POST", "/api/v1/apps", user("user_1"), big), 413, "bad_request")
}

func TestAppsAreScopedPerUser(t *testing.T) {
	s := resource.New()
	mine := createApp(t, s, "user_1", `{"templateId":"support","name":"Mine"}`)
	theirs := createApp(t, s, "user_2", `{"templateId":"crm","name":"Theirs"}`)
	id := mine["id"].(string)

	r := do(t, s, "GET", "/api/v1/apps", user("user_1"), "")
	apps := r.body["apps"].([]any)
	if len(apps) != 1 || apps[0].(map[string]any)["id"] != id {
		t.Errorf("user_1 apps = %v", apps)
	}
	r = do(t, s, "GET", "/api/v1/apps", user("user_3"), "")
	if apps := r.body["apps"].([]any); len(apps) != 0 {
		t.Errorf("user_3 apps = %v", apps)
	}

	other := theirs["id"].(string)
	for _, rt := range []struct{ method, path, body string }{
		{"GET", "/api/v1/apps/" + other, ""},
		{"PATCH", "/api/v1/apps/" + other, `{"name":"pwned"}`},
		{"DELETE", "/api/v1/apps/" + other, ""},
		{"GET", "/api/v1/apps/" + other + "/config", ""},
		{"PUT", "/api/v1/apps/" + other + "/config", `{"x":1}`},
		{"POST", "/api/v1/apps/" + other + "/commands", `{"commands":[{"type":"disable"}]}`},
	} {
		e := wantError(t, do(t, s, rt.method, rt.path, user("user_1"), rt.body), 404, "not_found")
		if e["message"] != "App not found" {
			t.Errorf("%s %s: %v", rt.method, rt.path, e["message"])
		}
	}
	r = do(t, s, "GET", "/api/v1/apps/"+other, user("user_2"), "")
	if r.status != 200 || r.body["app"].(map[string]any)["name"] != "Theirs" {
		t.Errorf("owner lost access: %d %s", r.status, r.raw)
	}
}

func TestAppLifecycle(t *testing.T) {
	s := resource.New()
	a := createApp(t, s, "user_1", `{"templateId":"support","name":"Helpdesk"}`)
	id := a["id"].(string)
	base := "/api/v1/apps/" + id

	r := do(t, s, "GET", base, user("user_1"), "")
	if r.status != 200 || r.body["app"].(map[string]any)["id"] != id {
		t.Fatalf("get: %d %s", r.status, r.raw)
	}

	r = do(t, s, "PATCH", base, user("user_1"), `{"name":"Helpdesk 2","description":"d","serverInstructions":"be nice","isEnabled":false,"branding":{"borderRadius":"sm"}}`)
	if r.status != 200 {
		t.Fatalf("patch: %d %s", r.status, r.raw)
	}
	p := r.body["app"].(map[string]any)
	if p["name"] != "Helpdesk 2" || p["description"] != "d" || p["serverInstructions"] != "be nice" || p["isEnabled"] != false {
		t.Errorf("patched = %v", p)
	}
	if b := p["branding"].(map[string]any); b["borderRadius"] != "sm" || b["fontFamily"] != "Geist" {
		t.Errorf("branding merge = %v", b)
	}
	if p["slug"] != a["slug"] || p["templateId"] != "support" {
		t.Errorf("patch changed untouched fields: %v", p)
	}
	wantError(t, do(t, s, "PATCH", base, user("user_1"), `{"name":""}`), 400, "validation_error")
	wantError(t, do(t, s, "PATCH", base, user("user_1"), `{"isEnabled":"yes"}`), 400, "validation_error")
	wantError(t, do(t, s, "PATCH", base, user("user_1"), `nope`), 400, "bad_request")

	// Config.
	r = do(t, s, "GET", base+"/config", user("user_1"), "")
	cfg, ok := r.body["config"].(map[string]any)
	if r.status != 200 || !ok || cfg["templateId"] != "support" {
		t.Fatalf("config: %d %s", r.status, r.raw)
	}
	r = do(t, s, "PUT", base+"/config", user("user_1"), `{"tools":[{"key":"t1"}],"custom":true}`)
	if r.status != 200 || r.body["config"].(map[string]any)["custom"] != true {
		t.Fatalf("put config: %d %s", r.status, r.raw)
	}
	r = do(t, s, "GET", base+"/config", user("user_1"), "")
	cfg = r.body["config"].(map[string]any)
	if cfg["custom"] != true || cfg["templateId"] != nil {
		t.Errorf("config not replaced: %v", cfg)
	}
	wantError(t, do(t, s, "PUT", base+"/config", user("user_1"), `[1,2]`), 400, "validation_error")
	wantError(t, do(t, s, "PUT", base+"/config", user("user_1"), `{`), 400, "bad_request")
	wantError(t, do(t, s, "POST", base+"/config", user("user_1"), `{}`), 405, "bad_request")

	// Commands.
	r = do(t, s, "POST", base+"/commands", user("user_1"), `{"commands":[{"type":"set_name","name":"Renamed"},{"type":"enable"},{"type":"update_branding","branding":{"accentColor":"#abcdef"}}]}`)
	if r.status != 200 {
		t.Fatalf("commands: %d %s", r.status, r.raw)
	}
	results := r.body["results"].([]any)
	if len(results) != 3 {
		t.Fatalf("results = %v", results)
	}
	for i, x := range results {
		m := x.(map[string]any)
		if m["index"] != float64(i) || m["status"] != "applied" {
			t.Errorf("result %d = %v", i, m)
		}
	}
	app := r.body["app"].(map[string]any)
	if app["name"] != "Renamed" || app["isEnabled"] != true || app["branding"].(map[string]any)["accentColor"] != "#abcdef" {
		t.Errorf("app after commands = %v", app)
	}
	e := wantError(t, do(t, s, "POST", base+"/commands", user("user_1"), `{"commands":[{"type":"disable"},{"type":"launch_rockets"}]}`), 400, "validation_error")
	if d := e["details"].([]any); len(d) != 1 || d[0].(map[string]any)["field"] != "commands[1].type" {
		t.Errorf("details = %v", e["details"])
	}
	// Nothing was applied from the rejected batch.
	if r := do(t, s, "GET", base, user("user_1"), ""); r.body["app"].(map[string]any)["isEnabled"] != true {
		t.Error("a rejected batch was partly applied")
	}
	wantError(t, do(t, s, "POST", base+"/commands", user("user_1"), `{"commands":[]}`), 400, "validation_error")
	wantError(t, do(t, s, "POST", base+"/commands", user("user_1"), `{"commands":[{"type":"set_name"}]}`), 400, "validation_error")
	wantError(t, do(t, s, "GET", base+"/commands", user("user_1"), ""), 405, "bad_request")

	// Delete.
	r = do(t, s, "DELETE", base, user("user_1"), "")
	if r.status != 204 || r.raw != "" {
		t.Fatalf("delete: %d %q", r.status, r.raw)
	}
	wantError(t, do(t, s, "GET", base, user("user_1"), ""), 404, "not_found")
	wantError(t, do(t, s, "DELETE", base, user("user_1"), ""), 404, "not_found")
	if r := do(t, s, "GET", "/api/v1/apps", user("user_1"), ""); len(r.body["apps"].([]any)) != 0 {
		t.Errorf("deleted app still listed")
	}
}

func TestRouting(t *testing.T) {
	s := resource.New()
	for _, c := range []struct {
		method, path string
		status       int
		code         string
	}{
		{"GET", "/", 404, "not_found"},
		{"GET", "/api/v2/apps", 404, "not_found"},
		{"GET", "/api/v1/unknown", 404, "not_found"},
		{"GET", "/api/v1/apps/app_x/tools", 404, "not_found"},
		{"GET", "/api/v1/templates/a/b", 404, "not_found"},
		{"PUT", "/api/v1/apps", 405, "bad_request"},
		{"POST", "/api/v1/apps/app_x", 405, "bad_request"},
	} {
		r := do(t, s, c.method, c.path, user("user_1"), "")
		wantError(t, r, c.status, c.code)
		if c.status == 405 && r.header.Get("Allow") == "" {
			t.Errorf("%s %s: no Allow header", c.method, c.path)
		}
	}
	r := do(t, s, "GET", "/healthz", nil, "")
	if r.status != 200 || r.raw != "ok" {
		t.Errorf("healthz: %d %q", r.status, r.raw)
	}
}

func TestOverHTTP(t *testing.T) {
	s := resource.New()
	ts := httptest.NewServer(s)
	defer ts.Close()
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr}
	req, _ := http.NewRequest("POST", ts.URL+"/api/v1/apps", strings.NewReader(`{"templateId":"support","name":"Wire"}`))
	for k, v := range user("user_9") {
		req.Header[k] = v
	}
	res, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 201 || res.Header.Get("Location") == "" {
		t.Errorf("create over HTTP: %d", res.StatusCode)
	}
}
