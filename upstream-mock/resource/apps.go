// apps.go holds the app resource: the App type, the create and patch
// request bodies with their validation, and the handlers that list,
// create, read, patch and delete a user's apps, with their helpers (ids,
// timestamps, slugs).

package resource

import (
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"strconv"
	"strings"
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

// app is a stored App with its owner.
type app struct {
	App
	owner string
}

// appDetails are the optional app fields that both a create and a patch
// body may set. It is not embedded in the bodies, so that a type error in
// one of them names the field as the client sent it ("description", not
// "appDetails.description").
type appDetails struct {
	Description        *string
	CompanyURL         *string
	ServerInstructions *string
	Branding           *brandingInput
}

// validate adds the errors of the fields that are set.
func (d *appDetails) validate(errs *[]FieldError) {
	validateMaxLen("description", d.Description, maxDescriptionLen, false, errs)
	validateURL("companyUrl", d.CompanyURL, false, errs)
	validateMaxLen("serverInstructions", d.ServerInstructions, maxInstructionsLen, false, errs)
	validateBranding("branding", d.Branding, false, errs)
}

// apply copies the fields that are set into a.
func (d *appDetails) apply(a *App) {
	if d.Description != nil {
		a.Description = *d.Description
	}
	if d.CompanyURL != nil {
		a.CompanyURL = *d.CompanyURL
	}
	if d.ServerInstructions != nil {
		a.ServerInstructions = *d.ServerInstructions
	}
	applyBranding(&a.Branding, d.Branding)
}

// createInput is the body of POST /api/v1/apps.
type createInput struct {
	TemplateID         *string        `json:"templateId"`
	Name               *string        `json:"name"`
	Slug               *string        `json:"slug"`
	Description        *string        `json:"description"`
	CompanyURL         *string        `json:"companyUrl"`
	ServerInstructions *string        `json:"serverInstructions"`
	Branding           *brandingInput `json:"branding"`
}

// details returns the body's appDetails fields.
func (in *createInput) details() *appDetails {
	return &appDetails{in.Description, in.CompanyURL, in.ServerInstructions, in.Branding}
}

// validate returns the body's field errors, in the order of its fields.
func (in *createInput) validate() []FieldError {
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
	in.details().validate(&errs)
	return errs
}

// patchInput is the body of PATCH /api/v1/apps/{appId}.
type patchInput struct {
	Name               *string        `json:"name"`
	Description        *string        `json:"description"`
	CompanyURL         *string        `json:"companyUrl"`
	ServerInstructions *string        `json:"serverInstructions"`
	IsEnabled          *bool          `json:"isEnabled"`
	Branding           *brandingInput `json:"branding"`
}

// details returns the body's appDetails fields.
func (in *patchInput) details() *appDetails {
	return &appDetails{in.Description, in.CompanyURL, in.ServerInstructions, in.Branding}
}

// validate returns the body's field errors, in the order of its fields.
func (in *patchInput) validate() []FieldError {
	var errs []FieldError
	validateName("name", in.Name, false, &errs)
	in.details().validate(&errs)
	return errs
}

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
	in := new(createInput)
	if !decodeValid(w, r, in, "Invalid app payload", in.validate) {
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
	in.details().apply(&a.App)
	s.apps[a.ID] = a
	s.byOwner[who.UserID] = append(s.byOwner[who.UserID], a.ID)
	s.configs[a.ID] = defaultConfig(tmpl.ID)
	w.Header().Set("Location", "/api/v1/apps/"+a.ID)
	writeJSON(w, http.StatusCreated, map[string]any{"app": a.App})
}

func (s *Server) getApp(w http.ResponseWriter, r *http.Request, who identity, id string) {
	s.viewApp(w, r, who, id, func(a *app) any {
		return map[string]any{"app": a.App}
	})
}

func (s *Server) patchApp(w http.ResponseWriter, r *http.Request, who identity, id string) {
	in := new(patchInput)
	s.updateApp(w, r, who, id, in, "Invalid app payload", in.validate, func(a *app) any {
		if in.Name != nil {
			a.Name = strings.TrimSpace(*in.Name)
		}
		if in.IsEnabled != nil {
			a.IsEnabled = *in.IsEnabled
		}
		in.details().apply(&a.App)
		return map[string]any{"app": a.App}
	})
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
