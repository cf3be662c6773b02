package main

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/eddy-streams/eddy/internal/server/wire"
)

// resultPrinter prints a result page by page.
type resultPrinter interface {
	rows(rows [][]any) error
	// end finishes the output once the last page is printed.
	end() error
}

func newResultPrinter(format string, w io.Writer, cols []wire.QueryColumn) resultPrinter {
	switch format {
	case "csv":
		return &csvPrinter{w: csv.NewWriter(w), cols: cols}
	case "json":
		return &jsonPrinter{w: w, cols: cols}
	}
	return &tablePrinter{w: w, cols: cols}
}

// tablePrinter aligns the whole result in columns under a centred header, numbers to
// the right, and ends with the row count, as psql does. It holds every row until end.
type tablePrinter struct {
	w     io.Writer
	cols  []wire.QueryColumn
	cells [][]string
}

func (p *tablePrinter) rows(rows [][]any) error {
	for _, r := range rows {
		line := make([]string, len(r))
		for i, v := range r {
			line[i] = cellText(v, "NULL")
		}
		p.cells = append(p.cells, line)
	}
	return nil
}

func (p *tablePrinter) end() error {
	if len(p.cols) == 0 {
		_, err := fmt.Fprintln(p.w, "(no columns)")
		return err
	}
	widths := make([]int, len(p.cols))
	for i, c := range p.cols {
		widths[i] = utf8.RuneCountInString(c.Name)
	}
	for _, r := range p.cells {
		for i, v := range r {
			for _, l := range strings.Split(v, "\n") {
				widths[i] = max(widths[i], utf8.RuneCountInString(l))
			}
		}
	}
	var b strings.Builder
	line := func(cells []string, align func(i int, s string) string) {
		for i, c := range cells {
			if i > 0 {
				b.WriteString("|")
			}
			b.WriteString(" " + align(i, c) + " ")
		}
		s := strings.TrimRight(b.String(), " ")
		b.Reset()
		fmt.Fprintln(p.w, s)
	}
	names := make([]string, len(p.cols))
	for i, c := range p.cols {
		names[i] = c.Name
	}
	line(names, func(i int, s string) string {
		pad := widths[i] - utf8.RuneCountInString(s)
		return strings.Repeat(" ", pad/2) + s + strings.Repeat(" ", pad-pad/2)
	})
	rules := make([]string, len(p.cols))
	for i := range rules {
		rules[i] = strings.Repeat("-", widths[i]+2)
	}
	fmt.Fprintln(p.w, strings.Join(rules, "+"))
	for _, r := range p.cells {
		// A value with line breaks (an EXPLAIN plan) takes several lines.
		split := make([][]string, len(r))
		height := 1
		for i, v := range r {
			split[i] = strings.Split(v, "\n")
			height = max(height, len(split[i]))
		}
		for l := range height {
			cells := make([]string, len(r))
			for i := range r {
				if l < len(split[i]) {
					cells[i] = split[i][l]
				}
			}
			line(cells, func(i int, s string) string {
				pad := strings.Repeat(" ", widths[i]-utf8.RuneCountInString(s))
				if numericType(p.cols[i].Type) {
					return pad + s
				}
				return s + pad
			})
		}
	}
	noun := "rows"
	if len(p.cells) == 1 {
		noun = "row"
	}
	_, err := fmt.Fprintf(p.w, "(%d %s)\n", len(p.cells), noun)
	return err
}

// numericType reports whether DuckDB's type name is that of a number.
func numericType(t string) bool {
	switch t {
	case "TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT",
		"UINTEGER", "UBIGINT", "UHUGEINT", "FLOAT", "DOUBLE":
		return true
	}
	return strings.HasPrefix(t, "DECIMAL")
}

// cellText is a value as text; null is what a SQL NULL prints as.
func cellText(v any, null string) string {
	switch v := v.(type) {
	case nil:
		return null
	case string:
		return v
	case json.Number:
		return v.String()
	case bool:
		return strconv.FormatBool(v)
	case float64:
		return strconv.FormatFloat(v, 'g', -1, 64)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

// csvPrinter prints a header line and RFC 4180 rows; NULL is an empty field, a LIST or
// STRUCT its JSON.
type csvPrinter struct {
	w      *csv.Writer
	cols   []wire.QueryColumn
	headed bool
}

func (p *csvPrinter) header() {
	if p.headed {
		return
	}
	p.headed = true
	names := make([]string, len(p.cols))
	for i, c := range p.cols {
		names[i] = c.Name
	}
	_ = p.w.Write(names)
}

func (p *csvPrinter) rows(rows [][]any) error {
	p.header()
	for _, r := range rows {
		rec := make([]string, len(r))
		for i, v := range r {
			rec[i] = cellText(v, "")
		}
		if err := p.w.Write(rec); err != nil {
			return err
		}
	}
	p.w.Flush()
	return p.w.Error()
}

func (p *csvPrinter) end() error {
	p.header()
	p.w.Flush()
	return p.w.Error()
}

// jsonPrinter prints one JSON object per row, its keys in column order.
type jsonPrinter struct {
	w    io.Writer
	cols []wire.QueryColumn
}

func (p *jsonPrinter) rows(rows [][]any) error {
	var b []byte
	for _, r := range rows {
		b = append(b[:0], '{')
		for i, v := range r {
			if i > 0 {
				b = append(b, ',')
			}
			k, _ := json.Marshal(p.cols[i].Name)
			val, err := json.Marshal(v)
			if err != nil {
				return fmt.Errorf("encode column %s: %w", p.cols[i].Name, err)
			}
			b = append(append(append(b, k...), ':'), val...)
		}
		b = append(b, '}', '\n')
		if _, err := p.w.Write(b); err != nil {
			return err
		}
	}
	return nil
}

func (p *jsonPrinter) end() error { return nil }
