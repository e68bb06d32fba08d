package model

import (
	"fmt"
	"strings"
	"testing"

	"github.com/go-playground/validator/v10"
)

// TestValidatorTags holds the tag lists against the validator/v10 linked
// into this build: every listed tag must be one it knows, and a made-up
// one must not be, or the test would prove nothing.
func TestValidatorTags(t *testing.T) {
	known := func(tag string) (ok bool) {
		defer func() {
			if p := recover(); p != nil {
				ok = !strings.Contains(fmt.Sprint(p), "Undefined validation function")
			}
		}()
		_ = validator.New().Var("", tag)
		return true
	}
	for tag := range validatorTags {
		if !known(tag) {
			t.Errorf("validatorTags lists %q, which validator/v10 does not know", tag)
		}
	}
	for tag := range generatedTags {
		if tag != "dive" && !known(tag) {
			t.Errorf("generatedTags lists %q, which validator/v10 does not know", tag)
		}
	}
	if known("requird") {
		t.Fatal("validator/v10 accepts an unknown tag; the check above is void")
	}
	for tag := range paramTags {
		if !validatorTags[tag] || noParamTags[tag] {
			t.Errorf("paramTags lists %q, which is not a validator tag or also takes no parameter", tag)
		}
	}
	for tag := range noParamTags {
		if !validatorTags[tag] {
			t.Errorf("noParamTags lists %q, which is not a validator tag", tag)
		}
	}
}

func TestClosestTag(t *testing.T) {
	for name, want := range map[string]string{
		"requird": "required", "mn": "min", "emial": "email", "omitemtpy": "omitempty",
		"frobnicate": "", "evenn": "even",
	} {
		if got := closestTag(name, map[string]bool{"even": true}); got != want {
			t.Errorf("closestTag(%q) = %q, want %q", name, got, want)
		}
	}
}
