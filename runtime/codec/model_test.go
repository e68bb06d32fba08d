package codec_test

import (
	"github.com/skalds-go/skalds/runtime/codec"
	"github.com/skalds-go/skalds/runtime/codec/internal/codectest"
)

// The tests drive the Reader and the Writer through the decoders and
// encoders skaldgen generates for the models of codectest, so that they
// exercise exactly the call sequences real models use.

type (
	simpleModel = codectest.SimpleModel
	nestedModel = codectest.NestedModel
	nestedA     = codectest.NestedA
	nestedB     = codectest.NestedB
	camera      = codectest.Camera
	node        = codectest.Node
)

var (
	decodeSimpleModel = codectest.ReadSimpleModel
	encodeSimpleModel = codectest.WriteSimpleModel
	decodeNestedModel = codectest.ReadNestedModel
	decodeNode        = codectest.ReadNode
)

// DecodeSimpleModel is the generated top-level function, with validation
// by reflection as a model without generated validation has it.
func DecodeSimpleModel(data []byte) (simpleModel, error) {
	var m simpleModel
	r := codec.NewReader(data)
	decodeSimpleModel(r, &m)
	return m, r.Finish(func() error { return codec.Validate(&m) })
}
