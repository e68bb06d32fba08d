// Package params has a model and no worker: attachments shared by
// producers, without anything to register.
package params

// Params are attachments a producer writes for workers defined elsewhere.
//
//skald:model
type Params struct {
	Source string `json:"source"`
	Rate   int    `json:"rate"`
}
