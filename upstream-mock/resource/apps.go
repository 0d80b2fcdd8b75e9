package resource

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"
)

// App is the drio v1 app resource (camelCase on the wire).
type App struct {
	ID                 string   `json:"id"`
	PublicMcpID        string   `json:"publicMcpId"`
	Slug               string   `json:"slug"`
	Name               string   `json:"name"`
	Description        string   `json:"description"`
	Version            string   `json:"version"`
	Status             string   `json:"status"`
	IsEnabled          bool     `json:"isEnabled"`
	TemplateID         string   `json:"templateId"`
	CompanyURL         string   `json:"companyUrl"`
	ServerInstructions string   `json:"serverInstructions"`
	Branding           Branding `json:"branding"`
	CreatedAt          string   `json:"createdAt"`
	UpdatedAt          string   `json:"updatedAt"`
}

// Branding is an app's look.
type Branding struct {
	PrimaryColor    string `json:"primaryColor"`
	AccentColor     string `json:"accentColor"`
	BackgroundColor string `json:"backgroundColor"`
	FontFamily      string `json:"fontFamily"`
	BorderRadius    string `json:"borderRadius"`
}

// app is a stored App with its owner.
type app struct {
	App
	owner string
}

func defaultBranding() Branding {
	return Branding{
		PrimaryColor:    "#111827",
		AccentColor:     "#6366F1",
		BackgroundColor: "#FFFFFF",
		FontFamily:      "Geist",
		BorderRadius:    "lg",
	}
}

// brandingInput is a partial Branding in a request body.
type brandingInput struct {
	PrimaryColor    *string `json:"primaryColor"`
	AccentColor     *string `json:"accentColor"`
	BackgroundColor *string `json:"backgroundColor"`
	FontFamily      *string `json:"fontFamily"`
	BorderRadius    *string `json:"borderRadius"`
}

type createInput struct {
	TemplateID         *string        `json:"templateId"`
	Name               *string        `json:"name"`
	Slug               *string        `json:"slug"`
	Description        *string        `json:"description"`
	CompanyURL         *string        `json:"companyUrl"`
	ServerInstructions *string        `json:"serverInstructions"`
	Branding           *brandingInput `json:"branding"`
}

type patchInput struct {
	Name               *string        `json:"name"`
	Description        *string        `json:"description"`
	CompanyURL         *string        `json:"companyUrl"`
	ServerInstructions *string        `json:"serverInstructions"`
	IsEnabled          *bool          `json:"isEnabled"`
	Branding           *brandingInput `json:"branding"`
}

// command is one entry of POST /api/v1/apps/{appId}/commands.
type command struct {
	Type               string         `json:"type"`
	Name               *string        `json:"name"`
	Description        *string        `json:"description"`
	CompanyURL         *string        `json:"companyUrl"`
	ServerInstructions *string        `json:"serverInstructions"`
	Branding           *brandingInput `json:"branding"`
}

// CommandTypes lists the command types POST .../commands accepts.
var CommandTypes = []string{
	"set_name", "set_description", "set_company_url", "set_server_instructions",
	"update_branding", "enable", "disable",
}

const (
	maxNameLen         = 100
	maxDescriptionLen  = 2000
	maxInstructionsLen = 20000
	maxSlugLen         = 63
)

var (
	slugRE  = regexp.MustCompile(`^[a-z0-9]+(?:-[a-z0-9]+)*$`)
	colorRE = regexp.MustCompile(`^#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6}|[0-9a-fA-F]{8})$`)
	radii   = map[string]bool{"none": true, "sm": true, "md": true, "lg": true, "xl": true, "full": true}
)

func randomID(prefix string) string {
	b := make([]byte, 10)
	if _, err := rand.Read(b); err != nil {
		panic("resource: crypto/rand: " + err.Error())
	}
	return prefix + hex.EncodeToString(b)
}

func (s *Server) stamp() string {
	return s.now().UTC().Format("2006-01-02T15:04:05.000Z")
}

// decodeObject reads a JSON object body into v. On failure it writes the
// error and returns false.
func decodeObject(w http.ResponseWriter, r *http.Request, v any) bool {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			writeError(w, r, http.StatusRequestEntityTooLarge, CodeBadRequest, "Request body exceeds 1 MiB", nil)
			return false
		}
		writeError(w, r, http.StatusBadRequest, CodeBadRequest, "Request body could not be read", nil)
		return false
	}
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 {
		writeError(w, r, http.StatusBadRequest, CodeBadRequest, "Request body is required", nil)
		return false
	}
	if !json.Valid(trimmed) {
		writeError(w, r, http.StatusBadRequest, CodeBadRequest, "Malformed JSON body", nil)
		return false
	}
	if trimmed[0] != '{' {
		writeError(w, r, http.StatusBadRequest, CodeValidationError, "Request body must be a JSON object", nil)
		return false
	}
	if err := json.Unmarshal(trimmed, v); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			writeError(w, r, http.StatusBadRequest, CodeValidationError, "Invalid request body",
				[]FieldError{{Field: te.Field, Message: "must be a " + jsonKind(te.Type.Kind().String())}})
			return false
		}
		writeError(w, r, http.StatusBadRequest, CodeBadRequest, "Malformed JSON body", nil)
		return false
	}
	return true
}

func jsonKind(k string) string {
	switch k {
	case "string":
		return "string"
	case "bool":
		return "boolean"
	case "struct", "map", "ptr":
		return "object"
	case "slice", "array":
		return "array"
	default:
		return "number"
	}
}

func validateName(field string, v *string, required bool, errs *[]FieldError) {
	if v == nil {
		if required {
			*errs = append(*errs, FieldError{Field: field, Message: "is required"})
		}
		return
	}
	n := strings.TrimSpace(*v)
	switch {
	case n == "":
		*errs = append(*errs, FieldError{Field: field, Message: "must not be empty"})
	case utf8.RuneCountInString(n) > maxNameLen:
		*errs = append(*errs, FieldError{Field: field, Message: "must be at most " + strconv.Itoa(maxNameLen) + " characters"})
	}
}

func validateMaxLen(field string, v *string, max int, errs *[]FieldError) {
	if v != nil && utf8.RuneCountInString(*v) > max {
		*errs = append(*errs, FieldError{Field: field, Message: "must be at most " + strconv.Itoa(max) + " characters"})
	}
}

func validateURL(field string, v *string, errs *[]FieldError) {
	if v == nil || *v == "" {
		return
	}
	u, err := url.Parse(*v)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		*errs = append(*errs, FieldError{Field: field, Message: "must be an absolute http(s) URL"})
	}
}

func validateBranding(field string, b *brandingInput, errs *[]FieldError) {
	if b == nil {
		return
	}
	colors := []struct {
		name string
		v    *string
	}{{"primaryColor", b.PrimaryColor}, {"accentColor", b.AccentColor}, {"backgroundColor", b.BackgroundColor}}
	for _, c := range colors {
		if c.v != nil && !colorRE.MatchString(*c.v) {
			*errs = append(*errs, FieldError{Field: field + "." + c.name, Message: "must be a hex color such as #1A2B3C"})
		}
	}
	if b.FontFamily != nil && (strings.TrimSpace(*b.FontFamily) == "" || len(*b.FontFamily) > 64) {
		*errs = append(*errs, FieldError{Field: field + ".fontFamily", Message: "must be 1 to 64 characters"})
	}
	if b.BorderRadius != nil && !radii[*b.BorderRadius] {
		*errs = append(*errs, FieldError{Field: field + ".borderRadius", Message: "must be one of none, sm, md, lg, xl, full"})
	}
}

func applyBranding(dst *Branding, b *brandingInput) {
	if b == nil {
		return
	}
	if b.PrimaryColor != nil {
		dst.PrimaryColor = *b.PrimaryColor
	}
	if b.AccentColor != nil {
		dst.AccentColor = *b.AccentColor
	}
	if b.BackgroundColor != nil {
		dst.BackgroundColor = *b.BackgroundColor
	}
	if b.FontFamily != nil {
		dst.FontFamily = *b.FontFamily
	}
	if b.BorderRadius != nil {
		dst.BorderRadius = *b.BorderRadius
	}
}

// slugify derives a slug from a name.
func slugify(name string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(name) {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') {
			b.WriteRune(r)
			dash = false
		} else if !dash && b.Len() > 0 {
			b.WriteByte('-')
			dash = true
		}
	}
	out := strings.Trim(b.String(), "-")
	if len(out) > maxSlugLen-4 {
		out = strings.Trim(out[:maxSlugLen-4], "-")
	}
	if out == "" {
		out = "app"
	}
	return out
}

// slugTakenLocked reports whether owner already has an app with slug.
func (s *Server) slugTakenLocked(owner, slug string) bool {
	for _, id := range s.byOwner[owner] {
		if s.apps[id].Slug == slug {
			return true
		}
	}
	return false
}

// findLocked returns owner's app id, or nil when it does not exist or
// belongs to someone else.
func (s *Server) findLocked(owner, id string) *app {
	a, ok := s.apps[id]
	if !ok || a.owner != owner {
		return nil
	}
	return a
}

func appNotFound(w http.ResponseWriter, r *http.Request) {
	writeError(w, r, http.StatusNotFound, CodeNotFound, "App not found", nil)
}

func (s *Server) listApps(w http.ResponseWriter, r *http.Request, who identity) {
	s.mu.Lock()
	out := make([]App, 0, len(s.byOwner[who.UserID]))
	for _, id := range s.byOwner[who.UserID] {
		out = append(out, s.apps[id].App)
	}
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{"apps": out})
}

func (s *Server) createApp(w http.ResponseWriter, r *http.Request, who identity) {
	var in createInput
	if !decodeObject(w, r, &in) {
		return
	}
	var errs []FieldError
	if in.TemplateID == nil || *in.TemplateID == "" {
		errs = append(errs, FieldError{Field: "templateId", Message: "is required"})
	} else if _, ok := templateByID(*in.TemplateID); !ok {
		errs = append(errs, FieldError{Field: "templateId", Message: "unknown template"})
	}
	validateName("name", in.Name, true, &errs)
	if in.Slug != nil && (len(*in.Slug) > maxSlugLen || !slugRE.MatchString(*in.Slug)) {
		errs = append(errs, FieldError{Field: "slug", Message: "must be lowercase letters, digits and single hyphens, at most 63 characters"})
	}
	validateMaxLen("description", in.Description, maxDescriptionLen, &errs)
	validateURL("companyUrl", in.CompanyURL, &errs)
	validateMaxLen("serverInstructions", in.ServerInstructions, maxInstructionsLen, &errs)
	validateBranding("branding", in.Branding, &errs)
	if len(errs) > 0 {
		writeError(w, r, http.StatusBadRequest, CodeValidationError, "Invalid app payload", errs)
		return
	}
	tmpl, _ := templateByID(*in.TemplateID)

	s.mu.Lock()
	defer s.mu.Unlock()
	var slug string
	if in.Slug != nil {
		slug = *in.Slug
		if s.slugTakenLocked(who.UserID, slug) {
			writeError(w, r, http.StatusBadRequest, CodeValidationError, "Invalid app payload",
				[]FieldError{{Field: "slug", Message: "is already in use"}})
			return
		}
	} else {
		base := slugify(*in.Name)
		slug = base
		for i := 2; s.slugTakenLocked(who.UserID, slug); i++ {
			slug = base + "-" + strconv.Itoa(i)
		}
	}
	now := s.stamp()
	a := &app{owner: who.UserID, App: App{
		ID:          randomID("app_"),
		PublicMcpID: randomID("mcp_"),
		Slug:        slug,
		Name:        strings.TrimSpace(*in.Name),
		Description: tmpl.Description,
		Version:     "1.0.0",
		Status:      "draft",
		IsEnabled:   true,
		TemplateID:  tmpl.ID,
		Branding:    defaultBranding(),
		CreatedAt:   now,
		UpdatedAt:   now,
	}}
	if in.Description != nil {
		a.Description = *in.Description
	}
	if in.CompanyURL != nil {
		a.CompanyURL = *in.CompanyURL
	}
	if in.ServerInstructions != nil {
		a.ServerInstructions = *in.ServerInstructions
	}
	applyBranding(&a.Branding, in.Branding)
	s.apps[a.ID] = a
	s.byOwner[who.UserID] = append(s.byOwner[who.UserID], a.ID)
	s.configs[a.ID] = defaultConfig(tmpl.ID)
	w.Header().Set("Location", "/api/v1/apps/"+a.ID)
	writeJSON(w, http.StatusCreated, map[string]any{"app": a.App})
}

func (s *Server) getApp(w http.ResponseWriter, r *http.Request, who identity, id string) {
	s.mu.Lock()
	a := s.findLocked(who.UserID, id)
	var out App
	if a != nil {
		out = a.App
	}
	s.mu.Unlock()
	if a == nil {
		appNotFound(w, r)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"app": out})
}

func (s *Server) patchApp(w http.ResponseWriter, r *http.Request, who identity, id string) {
	s.mu.Lock()
	exists := s.findLocked(who.UserID, id) != nil
	s.mu.Unlock()
	if !exists {
		appNotFound(w, r)
		return
	}
	var in patchInput
	if !decodeObject(w, r, &in) {
		return
	}
	var errs []FieldError
	validateName("name", in.Name, false, &errs)
	validateMaxLen("description", in.Description, maxDescriptionLen, &errs)
	validateURL("companyUrl", in.CompanyURL, &errs)
	validateMaxLen("serverInstructions", in.ServerInstructions, maxInstructionsLen, &errs)
	validateBranding("branding", in.Branding, &errs)
	if len(errs) > 0 {
		writeError(w, r, http.StatusBadRequest, CodeValidationError, "Invalid app payload", errs)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.findLocked(who.UserID, id)
	if a == nil {
		appNotFound(w, r)
		return
	}
	if in.Name != nil {
		a.Name = strings.TrimSpace(*in.Name)
	}
	if in.Description != nil {
		a.Description = *in.Description
	}
	if in.CompanyURL != nil {
		a.CompanyURL = *in.CompanyURL
	}
	if in.ServerInstructions != nil {
		a.ServerInstructions = *in.ServerInstructions
	}
	if in.IsEnabled != nil {
		a.IsEnabled = *in.IsEnabled
	}
	applyBranding(&a.Branding, in.Branding)
	a.UpdatedAt = s.stamp()
	writeJSON(w, http.StatusOK, map[string]any{"app": a.App})
}

func (s *Server) deleteApp(w http.ResponseWriter, r *http.Request, who identity, id string) {
	s.mu.Lock()
	a := s.findLocked(who.UserID, id)
	if a != nil {
		delete(s.apps, id)
		delete(s.configs, id)
		ids := s.byOwner[who.UserID]
		for i, v := range ids {
			if v == id {
				s.byOwner[who.UserID] = append(ids[:i:i], ids[i+1:]...)
				break
			}
		}
	}
	s.mu.Unlock()
	if a == nil {
		appNotFound(w, r)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) getConfig(w http.ResponseWriter, r *http.Request, who identity, id string) {
	s.mu.Lock()
	a := s.findLocked(who.UserID, id)
	var cfg []byte
	if a != nil {
		cfg, _ = json.Marshal(s.configs[id])
	}
	s.mu.Unlock()
	if a == nil {
		appNotFound(w, r)
		return
	}
	writeJSON(w, http.StatusOK, map[string]json.RawMessage{"config": cfg})
}

func (s *Server) putConfig(w http.ResponseWriter, r *http.Request, who identity, id string) {
	s.mu.Lock()
	exists := s.findLocked(who.UserID, id) != nil
	s.mu.Unlock()
	if !exists {
		appNotFound(w, r)
		return
	}
	var in map[string]any
	if !decodeObject(w, r, &in) {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.findLocked(who.UserID, id)
	if a == nil {
		appNotFound(w, r)
		return
	}
	s.configs[id] = in
	a.UpdatedAt = s.stamp()
	writeJSON(w, http.StatusOK, map[string]any{"config": in})
}

// CommandResult reports what happened to one command.
type CommandResult struct {
	Index  int    `json:"index"`
	Type   string `json:"type"`
	Status string `json:"status"`
}

func (s *Server) runCommands(w http.ResponseWriter, r *http.Request, who identity, id string) {
	s.mu.Lock()
	exists := s.findLocked(who.UserID, id) != nil
	s.mu.Unlock()
	if !exists {
		appNotFound(w, r)
		return
	}
	var in struct {
		Commands []command `json:"commands"`
	}
	if !decodeObject(w, r, &in) {
		return
	}
	var errs []FieldError
	if len(in.Commands) == 0 {
		errs = append(errs, FieldError{Field: "commands", Message: "must contain at least one command"})
	}
	for i, c := range in.Commands {
		f := "commands[" + strconv.Itoa(i) + "]"
		switch c.Type {
		case "set_name":
			validateName(f+".name", c.Name, true, &errs)
		case "set_description":
			if c.Description == nil {
				errs = append(errs, FieldError{Field: f + ".description", Message: "is required"})
			}
			validateMaxLen(f+".description", c.Description, maxDescriptionLen, &errs)
		case "set_company_url":
			if c.CompanyURL == nil {
				errs = append(errs, FieldError{Field: f + ".companyUrl", Message: "is required"})
			}
			validateURL(f+".companyUrl", c.CompanyURL, &errs)
		case "set_server_instructions":
			if c.ServerInstructions == nil {
				errs = append(errs, FieldError{Field: f + ".serverInstructions", Message: "is required"})
			}
			validateMaxLen(f+".serverInstructions", c.ServerInstructions, maxInstructionsLen, &errs)
		case "update_branding":
			if c.Branding == nil {
				errs = append(errs, FieldError{Field: f + ".branding", Message: "is required"})
			}
			validateBranding(f+".branding", c.Branding, &errs)
		case "enable", "disable":
		case "":
			errs = append(errs, FieldError{Field: f + ".type", Message: "is required"})
		default:
			errs = append(errs, FieldError{Field: f + ".type", Message: "unknown command type '" + c.Type + "'; expected one of " + strings.Join(CommandTypes, ", ")})
		}
	}
	if len(errs) > 0 {
		writeError(w, r, http.StatusBadRequest, CodeValidationError, "Invalid commands", errs)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.findLocked(who.UserID, id)
	if a == nil {
		appNotFound(w, r)
		return
	}
	results := make([]CommandResult, 0, len(in.Commands))
	for i, c := range in.Commands {
		switch c.Type {
		case "set_name":
			a.Name = strings.TrimSpace(*c.Name)
		case "set_description":
			a.Description = *c.Description
		case "set_company_url":
			a.CompanyURL = *c.CompanyURL
		case "set_server_instructions":
			a.ServerInstructions = *c.ServerInstructions
		case "update_branding":
			applyBranding(&a.Branding, c.Branding)
		case "enable":
			a.IsEnabled = true
		case "disable":
			a.IsEnabled = false
		}
		results = append(results, CommandResult{Index: i, Type: c.Type, Status: "applied"})
	}
	a.UpdatedAt = s.stamp()
	writeJSON(w, http.StatusOK, map[string]any{"results": results, "app": a.App})
}
