package task

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/skalds-go/skalds/runtime/codec"
)

// MaxAttachmentsDepth is the deepest nesting of objects and arrays
// accepted in attachments. MongoDB refuses documents nested past 100
// levels, and FerretDB fails earlier and less clearly; parameters never
// need this many.
const MaxAttachmentsDepth = 64

// maxAttachmentErrors caps the problems one conversion reports.
const maxAttachmentErrors = 20

// AttachmentsBSON converts attachments, a plain JSON object, to the BSON
// document stored in MongoDB. The conversion is strict and never guesses:
//
//   - it is plain JSON, not MongoDB Extended JSON: {"$numberLong": "5"} is
//     not turned into a number, nor {"$date": 0} into a date;
//   - a key that starts with "$" (an operator or Extended JSON to MongoDB),
//     contains "." (a path to MongoDB's updates and queries, refused by
//     FerretDB), contains NUL (which ends a key in BSON) or is given twice
//     is refused;
//   - nesting deeper than MaxAttachmentsDepth is refused;
//   - integers become int32 when they fit, else int64, other numbers
//     float64; a number beyond float64's range is refused rather than
//     stored as Infinity.
//
// Problems are returned as codec.Errors, each with the JSON path of the
// offending key or value ($.a.b, $.list[3]), so that callers can answer
// 422 with the paths; malformed JSON stops the conversion at its offset.
func AttachmentsBSON(data []byte) (bson.Raw, error) {
	c := converter{dec: json.NewDecoder(bytes.NewReader(data))}
	c.dec.UseNumber()
	tok, err := c.dec.Token()
	if err != nil {
		return nil, codec.Errors{{Path: "$", Msg: "not JSON: " + err.Error()}}
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, codec.Errors{{Path: "$", Msg: "attachments must be a JSON object, got " + kindOfToken(tok)}}
	}
	var root codec.Path
	doc := c.object(&root, 1)
	if c.stop == nil {
		if _, err := c.dec.Token(); err != io.EOF {
			c.fail(&root, "unexpected data after the attachments object")
		}
	}
	if len(c.errs) > 0 {
		return nil, c.errs
	}
	raw, err := bson.Marshal(doc)
	if err != nil {
		return nil, codec.Errors{{Path: "$", Msg: "cannot be stored: " + err.Error()}}
	}
	return raw, nil
}

// Converted is a JSON object with the BSON document AttachmentsBSON made
// of it. A worker's progress is converted when it is reported, to refuse
// at once what MongoDB cannot store, and Store.StoreProgress writes the
// document so made instead of converting the JSON a second time.
type Converted struct {
	JSON []byte
	Doc  bson.Raw
}

// Convert converts data, a JSON object, by AttachmentsBSON.
func Convert(data []byte) (Converted, error) {
	doc, err := AttachmentsBSON(data)
	if err != nil {
		return Converted{}, err
	}
	return Converted{JSON: data, Doc: doc}, nil
}

// converter walks a token stream; after a syntax error it stops reading.
type converter struct {
	dec  *json.Decoder
	errs codec.Errors
	stop error
}

func (c *converter) fail(p *codec.Path, msg string) {
	if len(c.errs) < maxAttachmentErrors {
		c.errs = append(c.errs, &codec.FieldError{Path: p.String(), Msg: msg})
	}
}

// token reads the next token; a syntax error ends the conversion.
func (c *converter) token(p *codec.Path) (json.Token, bool) {
	if c.stop != nil {
		return nil, false
	}
	tok, err := c.dec.Token()
	if err != nil {
		c.stop = err
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		c.fail(p, fmt.Sprintf("invalid JSON at offset %d: %v", c.dec.InputOffset(), err))
		return nil, false
	}
	return tok, true
}

// object reads the members of an object whose "{" was consumed.
func (c *converter) object(p *codec.Path, depth int) bson.D {
	doc := bson.D{}
	seen := map[string]bool{}
	for c.stop == nil && c.dec.More() {
		tok, ok := c.token(p)
		if !ok {
			break
		}
		key, _ := tok.(string)
		kp := p.Member(key)
		switch {
		case strings.HasPrefix(key, "$"):
			c.fail(&kp, `keys may not start with "$" (MongoDB reads them as operators); rename the key`)
		case strings.IndexByte(key, '.') >= 0:
			c.fail(&kp, `keys may not contain "." (MongoDB reads it as a path into the document, and FerretDB refuses it); rename the key`)
		case strings.IndexByte(key, 0) >= 0:
			c.fail(&kp, "keys may not contain NUL")
		case seen[key]:
			c.fail(&kp, "key given more than once")
		}
		seen[key] = true
		v := c.value(&kp, depth)
		doc = append(doc, bson.E{Key: key, Value: v})
	}
	c.token(p) // the closing "}"
	return doc
}

// value reads one value at p, inside depth open containers.
func (c *converter) value(p *codec.Path, depth int) any {
	tok, ok := c.token(p)
	if !ok {
		return nil
	}
	switch t := tok.(type) {
	case json.Delim:
		if depth >= MaxAttachmentsDepth {
			c.fail(p, fmt.Sprintf("nested deeper than %d levels", MaxAttachmentsDepth))
			c.skip(p)
			return nil
		}
		if t == '{' {
			return c.object(p, depth+1)
		}
		arr := bson.A{}
		for i := 0; c.stop == nil && c.dec.More(); i++ {
			ip := p.Index(i)
			arr = append(arr, c.value(&ip, depth+1))
		}
		c.token(p) // the closing "]"
		return arr
	case json.Number:
		return c.number(p, t)
	default: // string, bool, nil
		return t
	}
}

// number converts a JSON number the way MongoDB's shell and drivers do.
func (c *converter) number(p *codec.Path, n json.Number) any {
	s := string(n)
	if !strings.ContainsAny(s, ".eE") {
		if i, err := strconv.ParseInt(s, 10, 64); err == nil {
			if i >= math.MinInt32 && i <= math.MaxInt32 {
				return int32(i)
			}
			return i
		}
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
		c.fail(p, fmt.Sprintf("number %s is out of the range of a 64-bit float", clipID(s)))
		return nil
	}
	return f
}

// skip consumes the rest of a container whose opening was just read.
func (c *converter) skip(p *codec.Path) {
	for depth := 1; depth > 0 && c.stop == nil; {
		tok, ok := c.token(p)
		if !ok {
			return
		}
		if d, ok := tok.(json.Delim); ok {
			if d == '{' || d == '[' {
				depth++
			} else {
				depth--
			}
		}
	}
}

func kindOfToken(tok json.Token) string {
	switch t := tok.(type) {
	case json.Delim:
		if t == '[' {
			return "array"
		}
		return string(t)
	case string:
		return "string"
	case json.Number:
		return "number"
	case bool:
		return "boolean"
	}
	return "null"
}
