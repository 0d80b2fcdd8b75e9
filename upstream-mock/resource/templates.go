package resource

import "net/http"

// Template is a starter an app is created from.
type Template struct {
	ID          string `json:"id"`
	Name        string `json:"name"`
	Description string `json:"description"`
	Category    string `json:"category"`
}

// templates is the public catalog, in listing order.
var templates = []Template{
	{ID: "support", Name: "Customer Support", Description: "Answer customer questions, look up tickets and escalate issues from inside the assistant.", Category: "support"},
	{ID: "crm", Name: "CRM Assistant", Description: "Search contacts, review deals and log activities in your CRM.", Category: "sales"},
	{ID: "analytics", Name: "Analytics Explorer", Description: "Query metrics and render charts and tables from your analytics warehouse.", Category: "data"},
}

func templateByID(id string) (Template, bool) {
	for _, t := range templates {
		if t.ID == id {
			return t, true
		}
	}
	return Template{}, false
}

// defaultConfig is the authoring config a new app starts with.
func defaultConfig(templateID string) map[string]any {
	tools := map[string][]map[string]any{
		"support": {
			{"key": "search_tickets", "name": "Search tickets", "kind": "function", "isEnabled": true},
			{"key": "create_ticket", "name": "Create ticket", "kind": "function", "isEnabled": true},
		},
		"crm": {
			{"key": "find_contact", "name": "Find contact", "kind": "function", "isEnabled": true},
			{"key": "list_deals", "name": "List deals", "kind": "function", "isEnabled": true},
		},
		"analytics": {
			{"key": "run_query", "name": "Run query", "kind": "function", "isEnabled": true},
		},
	}[templateID]
	list := make([]any, 0, len(tools))
	for _, t := range tools {
		list = append(list, t)
	}
	return map[string]any{
		"templateId":   templateID,
		"tools":        list,
		"widgets":      []any{},
		"integrations": []any{},
		"auth":         []any{},
	}
}

func (s *Server) listTemplates(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{"templates": templates})
}

func (s *Server) getTemplate(w http.ResponseWriter, r *http.Request, id string) {
	t, ok := templateByID(id)
	if !ok {
		writeError(w, r, http.StatusNotFound, CodeNotFound, "Template not found", nil)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"template": t})
}
