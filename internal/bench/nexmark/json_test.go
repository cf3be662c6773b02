package nexmark

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"
	"unicode/utf8"
)

// envelope is the JSON form's shape for encoding/json, the independent implementation
// the hand-written codec is checked against.
type envelope struct {
	EventType Kind     `json:"event_type"`
	Person    *Person  `json:"person,omitempty"`
	Auction   *Auction `json:"auction,omitempty"`
	Bid       *Bid     `json:"bid,omitempty"`
}

func toEnvelope(e *Event) envelope {
	env := envelope{EventType: e.Kind}
	switch e.Kind {
	case KindPerson:
		env.Person = &e.Person
	case KindAuction:
		env.Auction = &e.Auction
	case KindBid:
		env.Bid = &e.Bid
	}
	return env
}

func fromEnvelope(t testing.TB, env envelope) Event {
	t.Helper()
	e := Event{Kind: env.EventType}
	switch {
	case env.Person != nil && env.Auction == nil && env.Bid == nil && e.Kind == KindPerson:
		e.Person = *env.Person
	case env.Auction != nil && env.Person == nil && env.Bid == nil && e.Kind == KindAuction:
		e.Auction = *env.Auction
	case env.Bid != nil && env.Person == nil && env.Auction == nil && e.Kind == KindBid:
		e.Bid = *env.Bid
	default:
		t.Fatalf("encoding/json decoded an envelope that is not one event: %+v", env)
	}
	return e
}

func TestJSONForm(t *testing.T) {
	e := Event{Kind: KindBid, Bid: Bid{Auction: 1000, Bidder: 1001, Price: 4210, Channel: "Google",
		URL: "https://www.nexmark.com/a/b/c/item.htm?query=1", DateTime: 1704067200000, Extra: "say \"hi\"\n"}}
	got := string(AppendJSON(nil, &e))
	want := `{"event_type":2,"bid":{"auction":1000,"bidder":1001,"price":4210,"channel":"Google",` +
		`"url":"https://www.nexmark.com/a/b/c/item.htm?query=1","dateTime":1704067200000,"extra":"say \"hi\"\n"}}`
	if got != want {
		t.Errorf("AppendJSON:\n got %s\nwant %s", got, want)
	}
}

func TestJSONRoundTrip(t *testing.T) {
	var buf []byte
	for i, e := range generate(t, boundedConfig(5_000), 0, 1) {
		buf = AppendJSON(buf[:0], &e)
		var got Event
		if err := DecodeJSON(buf, &got); err != nil {
			t.Fatalf("event %d: DecodeJSON(%s): %v", i, buf, err)
		}
		if got != e {
			t.Fatalf("event %d: round trip changed it:\n%+v\n%+v", i, e, got)
		}
		var env envelope
		if err := json.Unmarshal(buf, &env); err != nil {
			t.Fatalf("event %d: encoding/json rejects %s: %v", i, buf, err)
		}
		if fromEnvelope(t, env) != e {
			t.Fatalf("event %d: encoding/json reads %s differently", i, buf)
		}
		std, err := json.Marshal(toEnvelope(&e))
		if err != nil {
			t.Fatal(err)
		}
		if err := DecodeJSON(std, &got); err != nil || got != e {
			t.Fatalf("event %d: DecodeJSON of encoding/json's %s: %v, %+v", i, std, err, got)
		}
	}
}

func TestDecodeJSONAcceptsNullMembers(t *testing.T) {
	rec := `{"person":null,"auction":null,"bid":{"auction":1,"bidder":2,"price":3,"channel":"c","url":"u","dateTime":4,"extra":""},"event_type":2}`
	var e Event
	if err := DecodeJSON([]byte(rec), &e); err != nil {
		t.Fatal(err)
	}
	if want := (Event{Kind: KindBid, Bid: Bid{Auction: 1, Bidder: 2, Price: 3, Channel: "c", URL: "u", DateTime: 4}}); e != want {
		t.Errorf("decoded %+v, want %+v", e, want)
	}
}

func TestDecodeJSONErrors(t *testing.T) {
	const bid = `"bid":{"auction":1,"bidder":2,"price":3,"channel":"c","url":"u","dateTime":4,"extra":""}`
	for _, tc := range []struct {
		rec    string
		field  string
		offset int
	}{
		{``, "", 0},
		{`[]`, "", 0},
		{`{"event_type":2}`, "bid", 0},
		{`{` + bid + `}`, "event_type", 0},
		{`{"event_type":1,` + bid + `}`, "auction", 0},
		{`{"event_type":3,` + bid + `}`, "event_type", 14},
		{`{"event_type":2,"event_type":2,` + bid + `}`, "event_type", 16},
		{`{"event_type":2,"shoe":1,` + bid + `}`, "shoe", 16},
		{`{"event_type":2,` + bid + `,"person":{}}`, "person", 105},
		{`{"event_type":2,"bid":{"auction":1}}`, "bid.bidder", 22},
		{`{"event_type":2,"bid":{"auction":1,"auction":1}}`, "bid.auction", 35},
		{`{"event_type":2,"bid":{"auction":"1"}}`, "bid.auction", 33},
		{`{"event_type":2,"bid":{"auction":1.5}}`, "bid.auction", 33},
		{`{"event_type":2,"bid":{"auction":1e3}}`, "bid.auction", 33},
		{`{"event_type":2,"bid":{"auction":01}}`, "bid.auction", 33},
		{`{"event_type":2,"bid":{"auction":9223372036854775808}}`, "bid.auction", 33},
		{`{"event_type":2,"bid":{"channel":7}}`, "bid.channel", 33},
		{`{"event_type":2,"bid":{"channel":"a` + "\xff" + `"}}`, "bid.channel", 35},
		{`{"event_type":2,"bid":{"channel":"\ud800"}}`, "bid.channel", 34},
		{`{"event_type":2,"bid":{"channel":"\q"}}`, "bid.channel", 34},
		{`{"event_type":2,"bid":{"channel":"` + "\n" + `"}}`, "bid.channel", 34},
		{`{"event_type":2,"bid":{"channel":"abc}}`, "bid.channel", 33},
		{`{"event_type":2,"bid":{"price":3 "url":"u"}}`, "bid", 33},
		{`{"event_type":2,` + bid + `} x`, "", 106},
	} {
		var e Event
		err := DecodeJSON([]byte(tc.rec), &e)
		var de *DecodeError
		if !errors.As(err, &de) {
			t.Errorf("DecodeJSON(%s) = %v, want a *DecodeError", tc.rec, err)
			continue
		}
		if de.Field != tc.field || de.Offset != tc.offset {
			t.Errorf("DecodeJSON(%s): field %q offset %d (%v), want field %q offset %d", tc.rec, de.Field, de.Offset, err, tc.field, tc.offset)
		}
	}
}

func TestAppendJSONDoesNotAllocate(t *testing.T) {
	events := generate(t, boundedConfig(100), 0, 1)
	buf := make([]byte, 0, 4096)
	i := 0
	if n := testing.AllocsPerRun(1000, func() {
		buf = AppendJSON(buf[:0], &events[i%len(events)])
		i++
	}); n != 0 {
		t.Errorf("AppendJSON allocates %.0f times per event", n)
	}
}

func fuzzSeeds(f *testing.F) {
	for _, e := range generate(f, boundedConfig(60), 0, 1) {
		f.Add(AppendJSON(nil, &e))
	}
	f.Add([]byte(`{"event_type":0,"person":{"id":-0,"name":"\u00e9\ud83d\ude00\/","emailAddress":"","creditCard":"","city":"","state":"","dateTime":-9223372036854775808,"extra":""}}`))
}

// FuzzDecodeJSON checks that DecodeJSON accepts only what encoding/json accepts,
// reads it the same, and that what it accepts survives AppendJSON unchanged.
func FuzzDecodeJSON(f *testing.F) {
	fuzzSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		var e Event
		if DecodeJSON(data, &e) != nil {
			return
		}
		var env envelope
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&env); err != nil {
			t.Fatalf("DecodeJSON accepts %q, encoding/json does not: %v", data, err)
		}
		if std := fromEnvelope(t, env); std != e {
			t.Fatalf("%q: DecodeJSON %+v, encoding/json %+v", data, e, std)
		}
		var again Event
		if err := DecodeJSON(AppendJSON(nil, &e), &again); err != nil || again != e {
			t.Fatalf("%q: re-encoding gives %+v, %v", data, again, err)
		}
	})
}

// replaceInvalid is s with each byte that is not part of valid UTF-8 replaced by
// U+FFFD, as both encoders write strings.
func replaceInvalid(s string) string {
	var b []byte
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		b = utf8.AppendRune(b, r)
		i += size
	}
	return string(b)
}

// FuzzAppendJSON checks that AppendJSON writes, for any field values, a record that
// encoding/json and DecodeJSON both read back as the same event.
func FuzzAppendJSON(f *testing.F) {
	f.Add(uint8(0), int64(1), int64(-2), "Peter Shultz", "x@y.com", "a\"\\\x00\x7f\u2028")
	f.Add(uint8(1), int64(1<<62), int64(0), "\xff\xfe", "\xed\xa0\x80", "</script>")
	f.Add(uint8(2), int64(-1), int64(9), "", "\t\r\n", "\U0010ffff")
	f.Fuzz(func(t *testing.T, kind uint8, n1, n2 int64, s1, s2, s3 string) {
		k := Kind(kind % 3)
		var e Event
		e.Kind = k
		for i := range fieldNames[k] {
			n, s := field(&e, k, i)
			if n != nil {
				*n = n1 + int64(i)*n2
			} else {
				*s = [...]string{s1, s2, s3}[i%3]
			}
		}
		want := e
		for i := range fieldNames[k] {
			if _, s := field(&want, k, i); s != nil {
				*s = replaceInvalid(*s)
			}
		}
		data := AppendJSON(nil, &e)
		var env envelope
		if err := json.Unmarshal(data, &env); err != nil {
			t.Fatalf("encoding/json rejects %q: %v", data, err)
		}
		if std := fromEnvelope(t, env); std != want {
			t.Fatalf("encoding/json reads %q as %+v, want %+v", data, std, want)
		}
		var got Event
		if err := DecodeJSON(data, &got); err != nil || got != want {
			t.Fatalf("DecodeJSON(%q) = %+v, %v; want %+v", data, got, err, want)
		}
	})
}
