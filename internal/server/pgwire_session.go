package server

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// localResult is the answer to a statement the session gives itself: the session
// commands clients send on connect (SET, BEGIN, SHOW server_version...), which eddy's
// read-only engine has no use for.
type localResult struct {
	columns []pgColumn
	rows    [][]*string
	tag     string
	// apply changes the session when the statement executes.
	apply func(c *pgConn)
}

// pgSettings are the values SHOW and current_setting give for settings the session
// did not SET.
var pgSettings = map[string]string{
	"server_version":                pgServerVersion,
	"server_version_num":            pgServerVersionNum,
	"server_encoding":               "UTF8",
	"client_encoding":               "UTF8",
	"datestyle":                     "ISO, MDY",
	"intervalstyle":                 "postgres",
	"timezone":                      "UTC",
	"integer_datetimes":             "on",
	"standard_conforming_strings":   "on",
	"transaction_isolation":         "read committed",
	"default_transaction_isolation": "read committed",
	"transaction_read_only":         "on",
	"default_transaction_read_only": "on",
	"search_path":                   `"$user", public`,
	"max_identifier_length":         "63",
	"is_superuser":                  "off",
	"lc_collate":                    "C",
	"lc_ctype":                      "C",
	"statement_timeout":             "0",
	"max_connections":               "100",
	"block_size":                    "8192",
	"application_name":              "",
	"extra_float_digits":            "1",
	"bytea_output":                  "hex",
}

// readOnlyRefused are the first keywords of statements that would write or change the
// engine: refused with read_only_sql_transaction before they reach it.
var readOnlyRefused = map[string]bool{
	"INSERT": true, "UPDATE": true, "DELETE": true, "MERGE": true, "UPSERT": true, "CREATE": true,
	"DROP": true, "ALTER": true, "COPY": true, "TRUNCATE": true, "GRANT": true, "REVOKE": true,
	"ATTACH": true, "DETACH": true, "INSTALL": true, "LOAD": true, "PRAGMA": true, "CALL": true,
	"USE": true, "VACUUM": true, "CHECKPOINT": true, "EXPORT": true, "IMPORT": true, "COMMENT": true,
	"REINDEX": true, "CLUSTER": true, "LOCK": true, "REFRESH": true, "FORCE": true, "UPDATE_EXTENSIONS": true,
}

var (
	setPattern      = regexp.MustCompile(`(?is)^SET\s+(?:SESSION\s+|LOCAL\s+)?([A-Za-z_][A-Za-z0-9_.]*)\s*(?:=|\s+TO\s+|\s+)\s*(.*?)[\s;]*$`)
	timeZonePattern = regexp.MustCompile(`(?is)^SET\s+(?:SESSION\s+|LOCAL\s+)?TIME\s+ZONE\s+(.*?)[\s;]*$`)
	showPattern     = regexp.MustCompile(`(?is)^SHOW\s+([A-Za-z_][A-Za-z0-9_.]*)[\s;]*$`)
	resetPattern    = regexp.MustCompile(`(?is)^RESET\s+([A-Za-z_][A-Za-z0-9_.]*|ALL)[\s;]*$`)
	selectFunc      = regexp.MustCompile(`(?is)^SELECT\s+(?:pg_catalog\.)?(version|current_setting)\s*\(\s*(?:'([^']*)'\s*)?\)\s*(?:AS\s+("?)([A-Za-z_][A-Za-z0-9_]*)"?)?[\s;]*$`)
	versionCall     = regexp.MustCompile(`(?i)(?:pg_catalog\.)?\bversion\s*\(\s*\)`)
	settingCall     = regexp.MustCompile(`(?i)(?:pg_catalog\.)?\bcurrent_setting\s*\(\s*'([^']*)'\s*\)`)
)

// pgVersionText is what version() says.
const pgVersionText = "PostgreSQL " + pgServerVersion + " (eddy; SQL by DuckDB)"

// session answers the session commands and refuses writes. For any other statement it
// returns the SQL to give the engine: q with the calls of version() and
// current_setting() that DuckDB answers differently replaced by their values.
func (c *pgConn) session(q string) (*localResult, string, error) {
	body := strings.TrimSpace(skipSQLComments(q))
	kw := leadingKeyword(body)
	done := func(tag string, apply func(*pgConn)) (*localResult, string, error) {
		return &localResult{tag: tag, apply: apply}, "", nil
	}
	switch kw {
	case "BEGIN", "START":
		return done("BEGIN", func(c *pgConn) { c.inBlock = true })
	case "COMMIT", "END":
		return done("COMMIT", func(c *pgConn) { c.inBlock = false; c.closePortals(true) })
	case "ROLLBACK", "ABORT":
		if strings.Contains(strings.ToUpper(body), " TO ") {
			return done("ROLLBACK", nil)
		}
		return done("ROLLBACK", func(c *pgConn) { c.inBlock = false; c.closePortals(true) })
	case "SAVEPOINT":
		return done("SAVEPOINT", nil)
	case "RELEASE":
		return done("RELEASE", nil)
	case "DISCARD":
		return done("DISCARD ALL", func(c *pgConn) {
			c.settings = map[string]string{}
			c.timeout = 0
			clear(c.stmts)
		})
	case "DEALLOCATE":
		fields := strings.Fields(strings.TrimRight(body, "; \t\r\n"))
		name := fields[len(fields)-1]
		if strings.EqualFold(name, "ALL") {
			return done("DEALLOCATE ALL", func(c *pgConn) { clear(c.stmts) })
		}
		return done("DEALLOCATE", func(c *pgConn) { delete(c.stmts, strings.Trim(name, `"`)) })
	case "SET":
		return c.set(body)
	case "RESET":
		m := resetPattern.FindStringSubmatch(body)
		if m == nil {
			return nil, "", pgError("42601", "syntax error in %q", body)
		}
		name := strings.ToLower(m[1])
		return done("RESET", func(c *pgConn) {
			if name == "all" {
				c.settings = map[string]string{}
				c.timeout = 0
				return
			}
			delete(c.settings, name)
			if name == "statement_timeout" {
				c.timeout = 0
			}
		})
	case "SHOW":
		if m := showPattern.FindStringSubmatch(body); m != nil {
			name := strings.ToLower(m[1])
			if v, ok := c.setting(name); ok {
				return oneValue(name, v, "SHOW"), "", nil
			}
		}
	case "SELECT":
		if m := selectFunc.FindStringSubmatch(body); m != nil {
			col := strings.ToLower(m[1])
			if m[4] != "" {
				col = m[4]
				if m[3] == "" {
					col = strings.ToLower(col)
				}
			}
			if strings.EqualFold(m[1], "version") {
				return oneValue(col, pgVersionText, "SELECT"), "", nil
			}
			if v, ok := c.setting(strings.ToLower(m[2])); ok {
				return oneValue(col, v, "SELECT"), "", nil
			}
			return nil, "", pgError("42704", "unrecognized configuration parameter %q", m[2])
		}
	case "PREPARE", "EXECUTE":
		return nil, "", pgError("0A000", "SQL-level %s is not supported; use the extended query protocol's prepared statements", kw)
	case "LISTEN", "UNLISTEN", "NOTIFY":
		return nil, "", pgError("0A000", "%s is not supported: eddy has no notification channels", kw)
	}
	if readOnlyRefused[kw] {
		return nil, "", pgError("25006", "cannot execute %s: eddy's SQL is read-only; tables are written through eddy's write API (JSON records or InfluxDB line protocol)", kw)
	}
	rewritten := versionCall.ReplaceAllLiteralString(q, quoteSQL(pgVersionText))
	rewritten = settingCall.ReplaceAllStringFunc(rewritten, func(call string) string {
		name := strings.ToLower(settingCall.FindStringSubmatch(call)[1])
		if v, ok := c.setting(name); ok {
			return quoteSQL(v)
		}
		return call
	})
	return nil, rewritten, nil
}

// setting is a session setting's value: the session's own, or eddy's fixed one.
func (c *pgConn) setting(name string) (string, bool) {
	if v, ok := c.settings[name]; ok {
		return v, true
	}
	v, ok := pgSettings[name]
	return v, ok
}

// set accepts SET name = value and SET TIME ZONE, remembering the value for SHOW.
// statement_timeout becomes the timeout of the session's statements; the others
// change nothing (eddy's times are UTC and its text is UTF-8).
func (c *pgConn) set(body string) (*localResult, string, error) {
	var name, value string
	if m := timeZonePattern.FindStringSubmatch(body); m != nil {
		name, value = "timezone", m[1]
	} else if m := setPattern.FindStringSubmatch(body); m != nil {
		name, value = strings.ToLower(m[1]), m[2]
	} else {
		return nil, "", pgError("42601", "syntax error in %q", body)
	}
	value = strings.Trim(strings.TrimSpace(value), `'"`)
	var timeout time.Duration
	switch name {
	case "statement_timeout":
		d, err := parsePGDuration(value)
		if err != nil {
			return nil, "", pgError("22023", "invalid value for parameter \"statement_timeout\": %q: %v", value, err)
		}
		timeout = d
	case "transaction", "session":
		// SET TRANSACTION ... / SET SESSION CHARACTERISTICS AS TRANSACTION ...: every
		// transaction is read-only already.
		return &localResult{tag: "SET"}, "", nil
	}
	return &localResult{tag: "SET", apply: func(c *pgConn) {
		if strings.EqualFold(value, "DEFAULT") {
			delete(c.settings, name)
			if name == "statement_timeout" {
				c.timeout = 0
			}
			return
		}
		c.settings[name] = value
		if name == "statement_timeout" {
			c.timeout = timeout
		}
	}}, "", nil
}

// parsePGDuration reads a statement_timeout: milliseconds, or a number with a unit.
func parsePGDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if strings.EqualFold(s, "DEFAULT") {
		return 0, nil
	}
	i := strings.IndexFunc(s, func(r rune) bool { return (r < '0' || r > '9') && r != '.' })
	num, unit := s, "ms"
	if i >= 0 {
		num, unit = s[:i], strings.ToLower(strings.TrimSpace(s[i:]))
	}
	n, err := strconv.ParseFloat(num, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("not a duration")
	}
	units := map[string]time.Duration{"us": time.Microsecond, "ms": time.Millisecond, "s": time.Second, "min": time.Minute, "h": time.Hour, "d": 24 * time.Hour}
	u, ok := units[unit]
	if !ok {
		return 0, fmt.Errorf("unit %q: use us, ms, s, min, h or d", unit)
	}
	return time.Duration(n * float64(u)), nil
}

func oneValue(col, v, tag string) *localResult {
	return &localResult{columns: []pgColumn{{name: col, typ: pgText}}, rows: [][]*string{{&v}}, tag: tag}
}

func quoteSQL(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// splitStatements splits a query string at the semicolons that end statements, not
// those inside string literals, quoted identifiers, dollar-quoted strings or comments.
// Statements holding only white space and comments are dropped.
func splitStatements(q string) []string {
	var out []string
	start := 0
	for i := 0; i < len(q); {
		switch ch := q[i]; {
		case ch == '\'' || ch == '"':
			escapes := ch == '\'' && i > 0 && (q[i-1] == 'E' || q[i-1] == 'e') && (i < 2 || !isIdentByte(q[i-2]))
			i = skipQuoted(q, i, ch, escapes)
		case ch == '-' && strings.HasPrefix(q[i:], "--"):
			if j := strings.IndexByte(q[i:], '\n'); j >= 0 {
				i += j + 1
			} else {
				i = len(q)
			}
		case ch == '/' && strings.HasPrefix(q[i:], "/*"):
			i = skipBlockComment(q, i)
		case ch == '$' && (i == 0 || !isIdentByte(q[i-1])):
			i = skipDollarQuoted(q, i)
		case ch == ';':
			out = appendStatement(out, q[start:i])
			i++
			start = i
		default:
			i++
		}
	}
	return appendStatement(out, q[start:])
}

func appendStatement(out []string, s string) []string {
	if isEmptyStatement(s) {
		return out
	}
	return append(out, strings.TrimSpace(s))
}

func isIdentByte(b byte) bool {
	return b == '_' || b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9'
}

// skipQuoted returns the index after the quoted text starting at q[i]; a doubled quote
// is part of the text, and so is a backslash-escaped one in an E” string.
func skipQuoted(q string, i int, quote byte, escapes bool) int {
	for j := i + 1; j < len(q); j++ {
		switch {
		case escapes && q[j] == '\\':
			j++
		case q[j] == quote:
			if j+1 < len(q) && q[j+1] == quote {
				j++
				continue
			}
			return j + 1
		}
	}
	return len(q)
}

// skipBlockComment skips a /* */ comment, which nests in PostgreSQL.
func skipBlockComment(q string, i int) int {
	depth := 0
	for j := i; j < len(q)-1; j++ {
		switch {
		case q[j] == '/' && q[j+1] == '*':
			depth++
			j++
		case q[j] == '*' && q[j+1] == '/':
			depth--
			j++
			if depth == 0 {
				return j + 1
			}
		}
	}
	return len(q)
}

// skipDollarQuoted skips $tag$...$tag$ starting at q[i]; a $ that starts no tag (a
// parameter such as $1) is one byte.
func skipDollarQuoted(q string, i int) int {
	j := i + 1
	for j < len(q) && (isIdentByte(q[j]) && !(j == i+1 && q[j] >= '0' && q[j] <= '9')) {
		j++
	}
	if j >= len(q) || q[j] != '$' {
		return i + 1
	}
	tag := q[i : j+1]
	if end := strings.Index(q[j+1:], tag); end >= 0 {
		return j + 1 + end + len(tag)
	}
	return len(q)
}

// isEmptyStatement reports whether s holds only white space, comments and semicolons.
func isEmptyStatement(s string) bool {
	return strings.Trim(skipSQLComments(s), " \t\r\n\f;") == ""
}

// skipSQLComments drops the white space and comments s starts with.
func skipSQLComments(s string) string {
	for {
		s = strings.TrimLeft(s, " \t\r\n\f")
		switch {
		case strings.HasPrefix(s, "--"):
			if i := strings.IndexByte(s, '\n'); i >= 0 {
				s = s[i+1:]
			} else {
				return ""
			}
		case strings.HasPrefix(s, "/*"):
			s = s[skipBlockComment(s, 0):]
		default:
			return s
		}
	}
}

// leadingKeyword is the upper-cased word a statement starts with, after comments and
// opening parentheses.
func leadingKeyword(s string) string {
	for {
		next := skipSQLComments(strings.TrimLeft(s, "("))
		if next == s {
			break
		}
		s = next
	}
	i := strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r == '_')
	})
	if i < 0 {
		i = len(s)
	}
	return strings.ToUpper(s[:i])
}
