// appconfig.go holds GET and PUT /api/v1/apps/{appId}/config: an app's
// authoring config, stored as an opaque JSON object.

package resource

import (
	"encoding/json"
	"net/http"
)

func (s *Server) getConfig(w http.ResponseWriter, r *http.Request, who identity, id string) {
	s.viewApp(w, r, who, id, func(*app) any {
		cfg, _ := json.Marshal(s.configs[id])
		return map[string]json.RawMessage{"config": cfg}
	})
}

func (s *Server) putConfig(w http.ResponseWriter, r *http.Request, who identity, id string) {
	var in map[string]any
	s.updateApp(w, r, who, id, &in, "", nil, func(*app) any {
		s.configs[id] = in
		return map[string]any{"config": in}
	})
}
