package caddymodule

import (
	"errors"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
)

func asHandlerError(err error, target *caddyhttp.HandlerError) bool { return errors.As(err, target) }
