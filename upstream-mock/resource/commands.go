// commands.go holds POST /api/v1/apps/{appId}/commands: the command types,
// their validation (all or nothing), and how each is applied to the app.

package resource

import (
	"net/http"
	"strconv"
	"strings"
)

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

// CommandResult reports what happened to one command.
type CommandResult struct {
	Index  int    `json:"index"`
	Type   string `json:"type"`
	Status string `json:"status"`
}

func (s *Server) runCommands(w http.ResponseWriter, r *http.Request, who identity, id string) {
	var in struct {
		Commands []command `json:"commands"`
	}
	validate := func() []FieldError { return validateCommands(in.Commands) }
	s.updateApp(w, r, who, id, &in, "Invalid commands", validate, func(a *app) any {
		results := make([]CommandResult, 0, len(in.Commands))
		for i, c := range in.Commands {
			c.apply(a)
			results = append(results, CommandResult{Index: i, Type: c.Type, Status: "applied"})
		}
		return map[string]any{"results": results, "app": a.App}
	})
}

// validateCommands checks every command; the batch is applied only when
// none fails.
func validateCommands(cmds []command) []FieldError {
	var errs []FieldError
	if len(cmds) == 0 {
		errs = append(errs, FieldError{Field: "commands", Message: "must contain at least one command"})
	}
	for i, c := range cmds {
		f := "commands[" + strconv.Itoa(i) + "]"
		switch c.Type {
		case "set_name":
			validateName(f+".name", c.Name, true, &errs)
		case "set_description":
			validateMaxLen(f+".description", c.Description, maxDescriptionLen, true, &errs)
		case "set_company_url":
			validateURL(f+".companyUrl", c.CompanyURL, true, &errs)
		case "set_server_instructions":
			validateMaxLen(f+".serverInstructions", c.ServerInstructions, maxInstructionsLen, true, &errs)
		case "update_branding":
			validateBranding(f+".branding", c.Branding, true, &errs)
		case "enable", "disable":
		case "":
			errs = append(errs, FieldError{Field: f + ".type", Message: "is required"})
		default:
			errs = append(errs, FieldError{Field: f + ".type", Message: "unknown command type '" + c.Type + "'; expected one of " + strings.Join(CommandTypes, ", ")})
		}
	}
	return errs
}

// apply makes the change of one validated command to a.
func (c *command) apply(a *app) {
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
}
