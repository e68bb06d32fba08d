package api

import (
	"errors"
	"io"
	"net/http"

	"github.com/skalds-go/skalds/controller/api/wire"
	"github.com/skalds-go/skalds/runtime/codec"
)

// This file decodes request bodies with the project's strict reader
// (package codec): unknown and repeated fields are refused, every value
// must have its type, and every problem is reported at once with its JSON
// path. Python's snake_case spellings are accepted beside camelCase.

// readBody reads the body, which writes has bounded by MaxBody. It answers
// 413 itself for a body over the limit.
func (s *Server) readBody(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	data, err := io.ReadAll(r.Body)
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		s.tooLarge(w, r)
		return nil, false
	}
	if err != nil {
		s.fail(w, r, http.StatusBadRequest, "reading the body: "+err.Error())
		return nil, false
	}
	return data, true
}

// decoded reads the body with decode, answering 413 or 422 itself.
func (s *Server) decoded(w http.ResponseWriter, r *http.Request, decode func(*codec.Reader)) bool {
	data, ok := s.readBody(w, r)
	if !ok {
		return false
	}
	rd := codec.NewReader(data)
	decode(rd)
	if err := rd.End(); err != nil {
		s.fail(w, r, http.StatusUnprocessableEntity, "invalid body", fieldErrors(err)...)
		return false
	}
	return true
}

// fieldErrors turns codec.Errors into the fields of a 422.
func fieldErrors(err error) []fieldError {
	var errs codec.Errors
	if !errors.As(err, &errs) {
		return []fieldError{invalid("$", err.Error())}
	}
	out := make([]fieldError, len(errs))
	for i, fe := range errs {
		out[i] = invalid(fe.Path, fe.Msg)
	}
	return out
}

// createRequest is the body of POST /api/tasks.
type createRequest = wire.CreateTask

func optString(rd *codec.Reader) *string {
	if rd.Null() {
		return nil
	}
	v := rd.String()
	return &v
}

func decodeCreate(rd *codec.Reader, req *createRequest) {
	if !rd.BeginObject() {
		return
	}
	var seen [12]bool
	for rd.More() {
		switch string(rd.Key()) {
		case "id":
			if !rd.Seen(&seen[0]) {
				req.ID = rd.String()
			}
		case "className", "class_name":
			if !rd.Seen(&seen[1]) {
				req.ClassName = rd.String()
			}
		case "source":
			if !rd.Seen(&seen[2]) {
				req.Source = rd.String()
			}
		case "name":
			if !rd.Seen(&seen[3]) {
				req.Name = optString(rd)
			}
		case "description":
			if !rd.Seen(&seen[4]) {
				req.Description = optString(rd)
			}
		case "priority":
			if !rd.Seen(&seen[5]) && !rd.Null() {
				v := int(rd.Int(0))
				req.Priority = &v
			}
		case "attachments":
			if !rd.Seen(&seen[6]) && !rd.Null() {
				req.Attachments = rd.Raw()
			}
		case "mode":
			if !rd.Seen(&seen[7]) {
				req.Mode = rd.String()
			}
		case "executor":
			if !rd.Seen(&seen[8]) && !rd.Null() {
				req.Executor = rd.String()
			}
		case "deadlineDateTime", "deadline_date_time":
			if !rd.Seen(&seen[9]) && !rd.Null() {
				v := rd.Int(64)
				req.DeadlineDateTime = &v
			}
		case "dependencies":
			if !rd.Seen(&seen[10]) && !rd.Null() && rd.BeginArray() {
				req.Dependencies = []string{}
				for rd.More() {
					req.Dependencies = append(req.Dependencies, rd.String())
				}
			}
		case "isPersistent", "is_persistent":
			if !rd.Seen(&seen[11]) && !rd.Null() {
				v := rd.Bool()
				req.IsPersistent = &v
			}
		default:
			rd.Unknown()
		}
	}
	// A missing className is reported with the other invalid fields.
}

// decodeStatus reads the body of PUT /api/tasks/{id}/status.
func decodeStatus(rd *codec.Reader, status *string) {
	if !rd.BeginObject() {
		return
	}
	var seen bool
	for rd.More() {
		switch string(rd.Key()) {
		case "lifecycleStatus", "lifecycle_status":
			if !rd.Seen(&seen) {
				*status = rd.String()
			}
		default:
			rd.Unknown()
		}
	}
	if !seen {
		rd.Missing("lifecycleStatus")
	}
}

// decodeAttachments reads the body of PUT /api/tasks/{id}/attachments.
func decodeAttachments(rd *codec.Reader, att *[]byte) {
	if !rd.BeginObject() {
		return
	}
	var seen bool
	for rd.More() {
		switch string(rd.Key()) {
		case "attachments":
			if !rd.Seen(&seen) {
				*att = rd.Raw()
			}
		default:
			rd.Unknown()
		}
	}
	if !seen {
		rd.Missing("attachments")
	}
}
