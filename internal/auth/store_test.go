package auth

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

func openStore(t *testing.T, dir string) *Store {
	t.Helper()
	s, err := Open(dir)
	if err != nil {
		t.Fatalf("Open(%s): %v", dir, err)
	}
	return s
}

func assertMode(t *testing.T, path string, want os.FileMode) {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := st.Mode().Perm(); got != want {
		t.Errorf("%s has mode %v, want %v", path, got, want)
	}
}

func TestTokenFormat(t *testing.T) {
	s := openStore(t, t.TempDir())
	seen := map[string]bool{}
	for i := range 20 {
		tok, err := s.Create(fmt.Sprintf("t%d", i), RoleAdmin)
		if err != nil {
			t.Fatal(err)
		}
		rest, ok := strings.CutPrefix(tok, "eddy_")
		if !ok {
			t.Fatalf("token %q lacks the eddy_ prefix", tok)
		}
		raw, err := base64.RawURLEncoding.DecodeString(rest)
		if err != nil || len(raw) != 32 {
			t.Fatalf("token body %q: %d bytes, %v; want 32 bytes of unpadded base64url", rest, len(raw), err)
		}
		if seen[tok] {
			t.Fatalf("token %q issued twice", tok)
		}
		seen[tok] = true
	}
}

func TestCreateVerifyRevoke(t *testing.T) {
	s := openStore(t, t.TempDir())
	created := time.Date(2025, 3, 4, 5, 6, 7, 0, time.UTC)
	s.now = func() time.Time { return created }

	ci, err := s.Create("ci", RoleAdmin)
	if err != nil {
		t.Fatal(err)
	}
	ops, err := s.Create("ops", RoleAdmin)
	if err != nil {
		t.Fatal(err)
	}

	info, ok := s.Verify(ci)
	if !ok || info != (TokenInfo{Name: "ci", Role: RoleAdmin, Created: created}) {
		t.Errorf("Verify(ci) = %+v, %v", info, ok)
	}
	if info, ok := s.Verify(ops); !ok || info.Name != "ops" {
		t.Errorf("Verify(ops) = %+v, %v", info, ok)
	}

	flipped := []byte(ci)
	flipped[len(flipped)-1] ^= 1
	for _, bad := range []string{"", "eddy_", string(flipped), ci + "x", ci[:len(ci)-1], strings.TrimPrefix(ci, "eddy_"), strings.ToUpper(ci)} {
		if info, ok := s.Verify(bad); ok {
			t.Errorf("Verify(%q) accepted as %+v", bad, info)
		}
	}

	if err := s.Revoke("ci"); err != nil {
		t.Fatal(err)
	}
	if _, ok := s.Verify(ci); ok {
		t.Error("revoked token still verifies")
	}
	if _, ok := s.Verify(ops); !ok {
		t.Error("revoking ci also revoked ops")
	}
	if err := s.Revoke("ci"); !errors.Is(err, ErrNotFound) {
		t.Errorf("second Revoke(ci) = %v, want ErrNotFound", err)
	}
}

func TestCreateRejects(t *testing.T) {
	s := openStore(t, t.TempDir())
	if _, err := s.Create("ci", RoleAdmin); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		role    Role
		wantErr string
		is      error
	}{
		{name: "ci", role: RoleAdmin, wantErr: "already exists", is: ErrExists},
		{name: "", role: RoleAdmin, wantErr: "1 to 64 characters"},
		{name: strings.Repeat("a", 65), role: RoleAdmin, wantErr: "1 to 64 characters"},
		{name: "has space", role: RoleAdmin, wantErr: "may only contain"},
		{name: "a/b", role: RoleAdmin, wantErr: "may only contain"},
		{name: "reader", role: "reader", wantErr: `unknown role "reader"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tok, err := s.Create(tt.name, tt.role)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Create(%q, %q) = %q, %v; want error containing %q", tt.name, tt.role, tok, err, tt.wantErr)
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("error %v is not %v", err, tt.is)
			}
		})
	}
	if got := len(s.List()); got != 1 {
		t.Errorf("rejected creates changed the store: %d tokens, want 1", got)
	}
}

func TestListSortedWithoutSecrets(t *testing.T) {
	s := openStore(t, t.TempDir())
	for _, n := range []string{"zed", "alpha", "mid"} {
		if _, err := s.Create(n, RoleAdmin); err != nil {
			t.Fatal(err)
		}
	}
	var names []string
	for _, ti := range s.List() {
		names = append(names, ti.Name)
	}
	if got := strings.Join(names, ","); got != "alpha,mid,zed" {
		t.Errorf("List names = %s, want alpha,mid,zed", got)
	}
}

func TestPersistence(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir)
	keep, err := s.Create("keep", RoleAdmin)
	if err != nil {
		t.Fatal(err)
	}
	drop, err := s.Create("drop", RoleAdmin)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Revoke("drop"); err != nil {
		t.Fatal(err)
	}

	s2 := openStore(t, dir)
	info, ok := s2.Verify(keep)
	if !ok || info.Name != "keep" || info.Role != RoleAdmin {
		t.Fatalf("after reopen Verify(keep) = %+v, %v", info, ok)
	}
	orig, _ := s.Verify(keep)
	if !info.Created.Equal(orig.Created) {
		t.Errorf("created time changed across reopen: %v, want %v", info.Created, orig.Created)
	}
	if _, ok := s2.Verify(drop); ok {
		t.Error("revoked token verifies after reopen")
	}
	if got := len(s2.List()); got != 1 {
		t.Errorf("after reopen %d tokens, want 1", got)
	}
}

func TestStoreFileHoldsOnlyHashes(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir)
	tok, err := s.Create("ci", RoleAdmin)
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(dir, "tokens.json"))
	if err != nil {
		t.Fatal(err)
	}
	secret := strings.TrimPrefix(tok, "eddy_")
	if strings.Contains(string(data), secret) {
		t.Fatal("tokens.json contains the token in plain text")
	}
	sum := sha256.Sum256([]byte(tok))
	if !strings.Contains(string(data), hex.EncodeToString(sum[:])) {
		t.Errorf("tokens.json lacks the hex SHA-256 of the token:\n%s", data)
	}
}

func TestFileModes(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data", "auth")
	s := openStore(t, dir)
	assertMode(t, dir, 0o700)
	tokenFile := filepath.Join(dir, AdminTokenFile)
	if _, _, err := s.EnsureAdmin(tokenFile); err != nil {
		t.Fatal(err)
	}
	assertMode(t, filepath.Join(dir, "tokens.json"), 0o600)
	assertMode(t, tokenFile, 0o600)

	// Rewrites must keep the mode and leave no temporary files behind.
	if _, err := s.Create("ci", RoleAdmin); err != nil {
		t.Fatal(err)
	}
	assertMode(t, filepath.Join(dir, "tokens.json"), 0o600)
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	if got := strings.Join(names, ","); got != "admin.token,tokens.json" {
		t.Errorf("dir holds %s, want admin.token,tokens.json", got)
	}
}

func TestEnsureAdmin(t *testing.T) {
	dir := t.TempDir()
	tokenFile := filepath.Join(dir, AdminTokenFile)
	s := openStore(t, dir)

	tok, created, err := s.EnsureAdmin(tokenFile)
	if err != nil || !created || tok == "" {
		t.Fatalf("first EnsureAdmin = %q, %v, %v; want a new token", tok, created, err)
	}
	if info, ok := s.Verify(tok); !ok || info.Role != RoleAdmin || info.Name != AdminTokenName {
		t.Errorf("Verify(admin token) = %+v, %v", info, ok)
	}
	fromFile, err := ReadTokenFile(tokenFile)
	if err != nil || fromFile != tok {
		t.Errorf("ReadTokenFile = %q, %v; want the returned token", fromFile, err)
	}

	again, created, err := s.EnsureAdmin(tokenFile)
	if err != nil || created || again != "" {
		t.Errorf("second EnsureAdmin = %q, %v, %v; want \"\", false, nil", again, created, err)
	}
	reopened := openStore(t, dir)
	again, created, err = reopened.EnsureAdmin(tokenFile)
	if err != nil || created || again != "" {
		t.Errorf("EnsureAdmin after reopen = %q, %v, %v; want \"\", false, nil", again, created, err)
	}
	if fromFile, _ := ReadTokenFile(tokenFile); fromFile != tok {
		t.Error("later EnsureAdmin calls changed the token file")
	}

	// Revoking the admin token is how an operator replaces a lost one.
	if err := reopened.Revoke(AdminTokenName); err != nil {
		t.Fatal(err)
	}
	fresh, created, err := reopened.EnsureAdmin(tokenFile)
	if err != nil || !created || fresh == tok {
		t.Fatalf("EnsureAdmin after revoke = %q, %v, %v; want a different new token", fresh, created, err)
	}
	if _, ok := reopened.Verify(tok); ok {
		t.Error("old admin token still verifies")
	}
	if fromFile, _ := ReadTokenFile(tokenFile); fromFile != fresh {
		t.Error("token file does not hold the new admin token")
	}
}

func TestEnsureAdminKeepsStoreWhenTokenFileFails(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir)
	_, _, err := s.EnsureAdmin(filepath.Join(dir, "missing-dir", AdminTokenFile))
	if err == nil {
		t.Fatal("EnsureAdmin succeeded without a place to write the token")
	}
	if n := len(s.List()); n != 0 {
		t.Errorf("store holds %d tokens after a failed EnsureAdmin; an admin token nobody knows would lock the operator out", n)
	}
	if _, err := os.Stat(filepath.Join(dir, "tokens.json")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("tokens.json written after a failed EnsureAdmin: %v", err)
	}
}

func TestOpenRejectsBadFile(t *testing.T) {
	hash := strings.Repeat("ab", 32)
	tests := []struct {
		name    string
		content string
		wantErr string
	}{
		{"not json", "{", "unexpected end of JSON"},
		{"wrong version", `{"version": 2, "tokens": []}`, "unsupported version 2"},
		{"short hash", `{"version": 1, "tokens": [{"name": "a", "role": "admin", "sha256": "abcd"}]}`, "not 64 hex digits"},
		{"long hash", `{"version": 1, "tokens": [{"name": "a", "role": "admin", "sha256": "` + hash + `00"}]}`, "not 64 hex digits"},
		{"non-hex hash", `{"version": 1, "tokens": [{"name": "a", "role": "admin", "sha256": "` + strings.Repeat("zz", 32) + `"}]}`, "not 64 hex digits"},
		{"unknown role", `{"version": 1, "tokens": [{"name": "a", "role": "root", "sha256": "` + hash + `"}]}`, `unknown role "root"`},
		{"bad name", `{"version": 1, "tokens": [{"name": "", "role": "admin", "sha256": "` + hash + `"}]}`, "token name must be"},
		{"duplicate", `{"version": 1, "tokens": [{"name": "a", "role": "admin", "sha256": "` + hash + `"}, {"name": "a", "role": "admin", "sha256": "` + hash + `"}]}`, "appears twice"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, "tokens.json"), []byte(tt.content), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := Open(dir)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !strings.Contains(err.Error(), "tokens.json") {
				t.Errorf("Open = %v, want an error naming tokens.json and containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestReadTokenFile(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	got, err := ReadTokenFile(write("ok", "\n  eddy_abc123\r\n\n"))
	if err != nil || got != "eddy_abc123" {
		t.Errorf("ReadTokenFile = %q, %v; want eddy_abc123", got, err)
	}
	for _, content := range []string{"", "  \n", "eddy_", "password"} {
		_, err := ReadTokenFile(write("bad", content))
		if err == nil || !strings.Contains(err.Error(), "does not hold an eddy token") {
			t.Errorf("content %q: err = %v, want 'does not hold an eddy token'", content, err)
		}
	}
	// A misplaced secret must not end up in logs through the error.
	if _, err := ReadTokenFile(write("secret", "hunter2-password")); err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Errorf("err = %v, want an error that does not quote the file", err)
	}
	if _, err := ReadTokenFile(filepath.Join(dir, "missing")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: err = %v, want ErrNotExist", err)
	}
}

// Run with -race: API calls verify while an operator creates and revokes.
func TestConcurrentUse(t *testing.T) {
	s := openStore(t, t.TempDir())
	stable, err := s.Create("stable", RoleAdmin)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 100)
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 10 {
				name := fmt.Sprintf("w%d-%d", w, i)
				tok, err := s.Create(name, RoleAdmin)
				if err != nil {
					errs <- err
					return
				}
				if _, ok := s.Verify(tok); !ok {
					errs <- fmt.Errorf("fresh token %s does not verify", name)
				}
				if err := s.Revoke(name); err != nil {
					errs <- err
				}
			}
		}()
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 200 {
				if _, ok := s.Verify(stable); !ok {
					errs <- errors.New("stable token failed to verify during concurrent changes")
					return
				}
				_ = s.List()
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if got := len(s.List()); got != 1 {
		t.Errorf("%d tokens left, want 1", got)
	}
}
