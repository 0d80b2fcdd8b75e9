// branding.go holds an app's branding: the Branding type and its defaults,
// the partial branding a request may carry, and its validation and merge.

package resource

import (
	"strings"
)

// Branding is an app's look.
type Branding struct {
	PrimaryColor    string `json:"primaryColor"`
	AccentColor     string `json:"accentColor"`
	BackgroundColor string `json:"backgroundColor"`
	FontFamily      string `json:"fontFamily"`
	BorderRadius    string `json:"borderRadius"`
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

func validateBranding(field string, b *brandingInput, required bool, errs *[]FieldError) {
	if !present(field, b, required, errs) {
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
