// Package b is correct and has its generated file: nothing to report, and
// the generated declarations are not taken for the user's.
package b

//skald:model
type M struct {
	N string `json:"n"`
}
