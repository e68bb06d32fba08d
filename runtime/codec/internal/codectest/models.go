// Package codectest holds models for the tests of runtime/codec, with the
// decoders and encoders skaldgen generates for them, so that those tests
// drive the Reader and the Writer through exactly the calls real models
// make, and cannot drift from them: skaldgen -check fails when
// codectest_skald.go is not what skaldgen writes today.
package codectest

//go:generate go run github.com/skalds-go/skalds/cmd/skaldgen

import "time"

// SimpleModel is the model of example/worker.
//
//skald:model
type SimpleModel struct {
	RTSPURL  string `json:"rtspUrl" validate:"required,url"`
	FixFrame int    `json:"fixFrame" validate:"required,gte=1,lte=1000"`
}

// NestedModel has the shapes that matter for paths: a nested object, an
// array of objects with arrays inside, a nullable slice and pointer.
//
//skald:model
type NestedModel struct {
	Name    string    `json:"name" validate:"required"`
	A       NestedA   `json:"a"`
	Cameras []Camera  `json:"cameras"`
	Limit   *int      `json:"limit"`
	Tags    []string  `json:"tags"`
	When    time.Time `json:"when"`
}

// NestedA holds a slice of structs.
type NestedA struct {
	B []NestedB `json:"b"`
}

// NestedB has a required member.
type NestedB struct {
	C int `json:"c" validate:"required"`
}

// Camera is an element of NestedModel.Cameras.
type Camera struct {
	ID       string `json:"id" validate:"required"`
	FixFrame int    `json:"fixFrame"`
}

// Node nests to any depth, for tests of deep paths and the depth limit.
//
//skald:model
type Node struct {
	Child *Node `json:"child"`
	V     int   `json:"v"`
}

// The generated decoders and encoders, for the tests of the Reader and the
// Writer that drive them directly.
var (
	ReadSimpleModel  = decodeSimpleModel
	WriteSimpleModel = encodeSimpleModel
	ReadNestedModel  = decodeNestedModel
	ReadNode         = decodeNode
)
