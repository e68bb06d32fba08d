// Package codec is the strict JSON reader and writer that skaldgen's
// generated decoders and encoders call.
//
// Attachments arrive from other services and from people editing tasks by
// hand, so a decode must do more than fill a struct: it must refuse unknown
// and duplicated fields, notice required fields that are absent, reject
// numbers that do not fit their Go type, and tell the sender every problem
// at once, each named by its JSON path ($.cameras[2].fixFrame). The
// standard library's encoding/json stops at the first problem, accepts
// unknown fields unless told otherwise, and pays for reflection on every
// call; the generated code instead walks the input with a [Reader] whose
// calls mirror the model's fields, and writes output with a [Writer].
//
// A Reader never panics and never stops early on a wrong value: it records
// a [FieldError], skips the value and carries on, so one decode reports all
// problems (up to a cap). Only malformed JSON stops it, since nothing after
// a syntax error can be trusted. [Reader.End] returns the collected
// [Errors].
//
// [Validate] runs the model's validate tags through
// github.com/go-playground/validator/v10 and reports failures with the same
// JSON paths, so decode and validation errors read alike.
package codec
