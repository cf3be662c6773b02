package server

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/eddy-streams/eddy/internal/apierr"
	"github.com/eddy-streams/eddy/internal/server/wire"
)

// writeError answers with err's status and a JSON wire.Error. An error that is not an
// *apierr.Error is a bug or an outage behind the service: it is logged and reported as
// InternalFailure.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	e, ok := apierr.As(err)
	status := http.StatusInternalServerError
	if ok {
		status = wire.Status(e.Kind)
	} else {
		s.log.Error("request failed", "method", r.Method, "path", r.URL.Path, "err", err)
		e = &apierr.Error{Code: "InternalFailure", Message: err.Error()}
	}
	writeJSON(w, status, errorBody(e))
}

func errorBody(e *apierr.Error) wire.Error { return wire.Error{Code: e.Code, Message: e.Message} }

// writeJSON answers with v encoded as JSON.
func writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		// Only the wire types are encoded here, and they always marshal.
		panic(fmt.Sprintf("encode %T: %v", v, err))
	}
	body = append(body, '\n')
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// decodeJSON decodes the request body, which must hold exactly one JSON object with
// only fields v knows, into v.
func decodeJSON(r *http.Request, v any) error {
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return jsonError(err, dec.InputOffset())
	}
	var extra json.RawMessage
	if err := dec.Decode(&extra); err != io.EOF {
		if tooLarge, ok := bodyTooLarge(err); ok {
			return tooLarge
		}
		return errMalformed("unexpected data after the JSON object at byte offset %d", dec.InputOffset())
	}
	return nil
}

func errMalformed(format string, args ...any) error {
	return apierr.New(apierr.Invalid, "MalformedJSON", format, args...)
}

// jsonError turns an encoding/json error into an API error that says where the problem is.
func jsonError(err error, offset int64) error {
	if tooLarge, ok := bodyTooLarge(err); ok {
		return tooLarge
	}
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.Is(err, io.EOF):
		return errMalformed("the request body is empty; it must be a JSON object")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return errMalformed("the request body ends in the middle of a JSON value (byte offset %d)", offset)
	case errors.As(err, &syntax):
		// Offset counts the bytes read, the offending one included.
		return errMalformed("malformed JSON at byte offset %d: %s", max(syntax.Offset-1, 0), strings.TrimPrefix(syntax.Error(), "json: "))
	case errors.As(err, &typ):
		if typ.Field == "" {
			return errMalformed("the request body must be a JSON object, not %s", typ.Value)
		}
		return errMalformed("field %s: want %s, got %s (byte offset %d)", typ.Field, jsonTypeName(typ.Type.Kind().String()), typ.Value, typ.Offset)
	}
	if field, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		return apierr.New(apierr.Invalid, "UnknownField", "unknown field %s (byte offset %d); field names are case-sensitive camelCase", field, offset)
	}
	// Errors of a field's own decoder, such as a time that is not RFC 3339.
	return errMalformed("%s (byte offset %d)", strings.TrimPrefix(err.Error(), "json: "), offset)
}

func jsonTypeName(kind string) string {
	switch {
	case strings.HasPrefix(kind, "int"), strings.HasPrefix(kind, "uint"), strings.HasPrefix(kind, "float"):
		return "a number"
	case kind == "string":
		return "a string"
	case kind == "bool":
		return "true or false"
	case kind == "slice":
		return "an array"
	}
	return "an object"
}

// bodyTooLarge reports whether err says the body passed maxBodyBytes.
func bodyTooLarge(err error) (error, bool) {
	var mb *http.MaxBytesError
	if errors.As(err, &mb) {
		return errRequestTooLarge(), true
	}
	return nil, false
}

func errRequestTooLarge() error {
	return apierr.New(apierr.TooLarge, "RequestTooLarge", "the request body is larger than %d MiB", maxBodyBytes>>20)
}

func errParam(name, format string, args ...any) error {
	return apierr.New(apierr.Invalid, "InvalidParameter", "%s: %s", name, fmt.Sprintf(format, args...))
}

func errMissing(name, what string) error {
	return apierr.New(apierr.Invalid, "MissingParameter", "%s is required: %s", name, what)
}
