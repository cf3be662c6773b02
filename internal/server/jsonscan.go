package server

import (
	"fmt"
	"strconv"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
	"unsafe"
)

// jsonScanner reads JSON tokens from a byte slice, for the hand-written decoders.
type jsonScanner struct {
	p         []byte // the body
	i         int    // position of the next byte to read
	unescaped []byte // the last string with escapes, unescaped
	// checkUTF8 makes str reject a string that is not valid UTF-8. The put decoder
	// leaves it off: a record's data is bytes, and it checks its text fields itself.
	checkUTF8 bool
}

// openObject starts reading the members of an object whose '{' was consumed, reporting
// whether it has any.
func (s *jsonScanner) openObject() (bool, error) {
	s.skipSpace()
	if s.peek() == '}' {
		s.i++
		return false, nil
	}
	return true, nil
}

// memberName reads a member's name and the ':' after it, leaving the position at its
// value. The name is valid until the next string is read.
func (s *jsonScanner) memberName() ([]byte, error) {
	s.skipSpace()
	if s.peek() != '"' {
		return nil, s.syntaxError("expected a field name")
	}
	name, err := s.str()
	if err != nil {
		return nil, err
	}
	s.skipSpace()
	if s.peek() != ':' {
		return nil, s.syntaxError("expected ':' after a field name")
	}
	s.i++
	s.skipSpace()
	return name, nil
}

// nextMember reads what follows a member's value, reporting whether another member
// follows. An error from reading the member (err) stops the object there.
func (s *jsonScanner) nextMember(err error) (bool, error) {
	if err != nil {
		return false, err
	}
	s.skipSpace()
	switch s.peek() {
	case ',':
		s.i++
		return true, nil
	case '}':
		s.i++
		return false, nil
	}
	return false, s.syntaxError("expected ',' or '}' after a field value")
}

// str consumes the string at the current position (which starts with '"') and returns
// its unescaped content, which must be valid UTF-8 if checkUTF8 is set. Without escapes the result aliases
// the body; otherwise it is in the unescape buffer, valid until the next call.
func (s *jsonScanner) str() ([]byte, error) {
	start := s.i + 1
	p := s.p
	ascii := true
	for i := start; i < len(p); i++ {
		switch c := p[i]; {
		case c == '"':
			s.i = i + 1
			if !ascii && s.checkUTF8 && !utf8.Valid(p[start:i]) {
				s.i = start - 1
				return nil, s.syntaxError("a string is not valid UTF-8")
			}
			return p[start:i], nil
		case c == '\\':
			return s.unescape(start)
		case c < 0x20:
			s.i = i
			return nil, s.syntaxError("control character %#02x in a string; escape it", c)
		case c >= utf8.RuneSelf:
			ascii = false
		}
	}
	s.i = len(p)
	return nil, s.syntaxError("unterminated string")
}

var escapes = [256]byte{'"': '"', '\\': '\\', '/': '/', 'b': '\b', 'f': '\f', 'n': '\n', 'r': '\r', 't': '\t'}

// unescape is str's slow path for a string with escapes; it replaces invalid surrogate
// escapes with U+FFFD, as encoding/json does.
func (s *jsonScanner) unescape(start int) ([]byte, error) {
	out := s.unescaped[:0]
	p := s.p
	i := start
	for i < len(p) {
		c := p[i]
		switch {
		case c == '"':
			s.i = i + 1
			s.unescaped = out
			if s.checkUTF8 && !utf8.Valid(out) {
				s.i = start - 1
				return nil, s.syntaxError("a string is not valid UTF-8")
			}
			return out, nil
		case c < 0x20:
			s.i = i
			return nil, s.syntaxError("control character %#02x in a string; escape it", c)
		case c != '\\':
			out = append(out, c)
			i++
			continue
		}
		if i+1 >= len(p) {
			break
		}
		if e := escapes[p[i+1]]; e != 0 {
			out = append(out, e)
			i += 2
			continue
		}
		if p[i+1] != 'u' {
			s.i = i
			return nil, s.syntaxError("invalid escape \\%c in a string", p[i+1])
		}
		r, ok := hex4(p, i+2)
		if !ok {
			s.i = i
			return nil, s.syntaxError("invalid \\u escape in a string")
		}
		i += 6
		if utf16.IsSurrogate(r) {
			r2, ok := rune(-1), false
			if i+1 < len(p) && p[i] == '\\' && p[i+1] == 'u' {
				r2, ok = hex4(p, i+2)
			}
			if dec := utf16.DecodeRune(r, r2); ok && dec != unicode.ReplacementChar {
				r = dec
				i += 6
			} else {
				r = unicode.ReplacementChar
			}
		}
		out = utf8.AppendRune(out, r)
	}
	s.i = len(p)
	s.unescaped = out
	return nil, s.syntaxError("unterminated string")
}

func hex4(p []byte, i int) (rune, bool) {
	if i+4 > len(p) {
		return 0, false
	}
	n, err := strconv.ParseUint(unsafe.String(&p[i], 4), 16, 32)
	return rune(n), err == nil
}

// number consumes a JSON number, reporting whether it is an integer (no fraction or
// exponent).
func (s *jsonScanner) number() (num []byte, integer bool, err error) {
	p, i := s.p, s.i
	if i < len(p) && p[i] == '-' {
		i++
	}
	switch {
	case i < len(p) && p[i] == '0':
		i++
	case i < len(p) && p[i] >= '1' && p[i] <= '9':
		for i++; i < len(p) && p[i] >= '0' && p[i] <= '9'; i++ {
		}
	default:
		s.i = i
		return nil, false, s.syntaxError("malformed number")
	}
	integer = true
	if i < len(p) && p[i] == '.' {
		integer = false
		i++
		if i >= len(p) || p[i] < '0' || p[i] > '9' {
			s.i = i
			return nil, false, s.syntaxError("malformed number: a digit must follow '.'")
		}
		for ; i < len(p) && p[i] >= '0' && p[i] <= '9'; i++ {
		}
	}
	if i < len(p) && (p[i] == 'e' || p[i] == 'E') {
		integer = false
		i++
		if i < len(p) && (p[i] == '+' || p[i] == '-') {
			i++
		}
		if i >= len(p) || p[i] < '0' || p[i] > '9' {
			s.i = i
			return nil, false, s.syntaxError("malformed number: a digit must follow the exponent")
		}
		for ; i < len(p) && p[i] >= '0' && p[i] <= '9'; i++ {
		}
	}
	num = p[s.i:i]
	s.i = i
	return num, integer, nil
}

// boolean consumes true or false.
func (s *jsonScanner) boolean() (bool, error) {
	if len(s.p)-s.i >= 4 && string(s.p[s.i:s.i+4]) == "true" {
		s.i += 4
		return true, nil
	}
	if len(s.p)-s.i >= 5 && string(s.p[s.i:s.i+5]) == "false" {
		s.i += 5
		return false, nil
	}
	return false, s.syntaxError("invalid literal")
}

// null consumes a null literal if one is at the current position.
func (s *jsonScanner) null() bool {
	if len(s.p)-s.i >= 4 && string(s.p[s.i:s.i+4]) == "null" {
		s.i += 4
		return true
	}
	return false
}

func (s *jsonScanner) skipSpace() {
	for s.i < len(s.p) {
		switch s.p[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

func (s *jsonScanner) peek() byte {
	if s.i < len(s.p) {
		return s.p[s.i]
	}
	return 0
}

func (s *jsonScanner) syntaxError(format string, args ...any) error {
	if s.i >= len(s.p) {
		return errMalformed("the request body ends early (byte offset %d): %s", s.i, fmt.Sprintf(format, args...))
	}
	return errMalformed("malformed JSON at byte offset %d: %s", s.i, fmt.Sprintf(format, args...))
}
