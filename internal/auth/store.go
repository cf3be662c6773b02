package auth

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/eddy-streams/eddy/internal/atomicfile"
)

// AdminTokenFile is the conventional name, inside the data dir, of the file
// holding the admin token created on first start.
const AdminTokenFile = "admin.token"

// AdminTokenName is the name EnsureAdmin gives the token it creates.
const AdminTokenName = "admin"

const (
	tokensFile    = "tokens.json"
	fileVersion   = 1
	tokenPrefix   = "eddy_"
	tokenBytes    = 32
	maxNameLength = 64
)

// Role says what a token may do.
type Role string

// RoleAdmin may call every API. It is the only role so far; the type exists
// so that narrower roles can be added without changing the file format.
const RoleAdmin Role = "admin"

func (r Role) valid() bool { return r == RoleAdmin }

var (
	// ErrNotFound is returned for a token name the store does not hold.
	ErrNotFound = errors.New("no token with that name")
	// ErrExists is returned when creating a token under a name in use.
	ErrExists = errors.New("a token with that name already exists")
)

// TokenInfo describes a token without its secret.
type TokenInfo struct {
	Name    string    `json:"name"`
	Role    Role      `json:"role"`
	Created time.Time `json:"created"`
}

// record is one token as stored in tokens.json.
type record struct {
	Name    string    `json:"name"`
	Role    Role      `json:"role"`
	Created time.Time `json:"created"`
	SHA256  string    `json:"sha256"`
}

type fileFormat struct {
	Version int      `json:"version"`
	Tokens  []record `json:"tokens"`
}

type entry struct {
	info TokenInfo
	hash [sha256.Size]byte
}

// Store holds the token hashes of one data dir. It is safe for concurrent
// use; Verify only takes a read lock so API calls do not queue behind each
// other.
type Store struct {
	path string
	now  func() time.Time

	mu      sync.RWMutex
	entries []entry // in creation order, as in the file
}

// Open loads the token store in dir, creating dir (mode 0700) if missing.
// A dir without tokens.json yields an empty store; the file is written on
// the first change.
func Open(dir string) (*Store, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create token store dir %s: %w", dir, err)
	}
	s := &Store{path: filepath.Join(dir, tokensFile), now: time.Now}
	data, err := os.ReadFile(s.path)
	if errors.Is(err, fs.ErrNotExist) {
		return s, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read token store: %w", err)
	}
	entries, err := decode(data)
	if err != nil {
		return nil, fmt.Errorf("load token store %s: %w", s.path, err)
	}
	s.entries = entries
	return s, nil
}

func decode(data []byte) ([]entry, error) {
	var f fileFormat
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, err
	}
	if f.Version != fileVersion {
		return nil, fmt.Errorf("unsupported version %d (this eddy reads version %d)", f.Version, fileVersion)
	}
	entries := make([]entry, 0, len(f.Tokens))
	seen := make(map[string]bool, len(f.Tokens))
	for i, r := range f.Tokens {
		if err := checkName(r.Name); err != nil {
			return nil, fmt.Errorf("token %d: %w", i, err)
		}
		if seen[r.Name] {
			return nil, fmt.Errorf("token %q appears twice", r.Name)
		}
		seen[r.Name] = true
		// An unknown role may come from a newer eddy; refusing to start is
		// safer than guessing what that role was allowed to do.
		if !r.Role.valid() {
			return nil, fmt.Errorf("token %q: unknown role %q", r.Name, r.Role)
		}
		e := entry{info: TokenInfo{Name: r.Name, Role: r.Role, Created: r.Created}}
		// Check the length first: hex.Decode panics when dst is too short.
		if len(r.SHA256) != 2*sha256.Size {
			return nil, fmt.Errorf("token %q: sha256 is not %d hex digits", r.Name, 2*sha256.Size)
		}
		if _, err := hex.Decode(e.hash[:], []byte(r.SHA256)); err != nil {
			return nil, fmt.Errorf("token %q: sha256 is not %d hex digits", r.Name, 2*sha256.Size)
		}
		entries = append(entries, e)
	}
	return entries, nil
}

// saveLocked writes entries to disk. Callers swap s.entries only after it
// succeeds, so memory never holds a token the file does not.
func (s *Store) saveLocked(entries []entry) error {
	f := fileFormat{Version: fileVersion, Tokens: make([]record, 0, len(entries))}
	for _, e := range entries {
		f.Tokens = append(f.Tokens, record{
			Name:    e.info.Name,
			Role:    e.info.Role,
			Created: e.info.Created,
			SHA256:  hex.EncodeToString(e.hash[:]),
		})
	}
	data, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return fmt.Errorf("encode token store: %w", err)
	}
	if err := atomicfile.Write(s.path, append(data, '\n')); err != nil {
		return fmt.Errorf("save token store: %w", err)
	}
	return nil
}

// newEntry makes a fresh token. It is hashed with plain SHA-256 rather than
// a slow password hash (bcrypt, argon2): those exist to make guessing
// low-entropy passwords expensive, but a token carries 256 random bits, so
// guessing is hopeless at any hash speed, and a slow hash would only add
// tens of milliseconds to every API call.
func (s *Store) newEntry(name string, role Role) (string, entry, error) {
	var raw [tokenBytes]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return "", entry{}, fmt.Errorf("generate token: %w", err)
	}
	token := tokenPrefix + base64.RawURLEncoding.EncodeToString(raw[:])
	e := entry{
		info: TokenInfo{Name: name, Role: role, Created: s.now().UTC()},
		hash: sha256.Sum256([]byte(token)),
	}
	return token, e, nil
}

func (s *Store) indexLocked(name string) int {
	return slices.IndexFunc(s.entries, func(e entry) bool { return e.info.Name == name })
}

// Create issues a new token under name and returns it. The token is shown
// only here; the store keeps its hash.
func (s *Store) Create(name string, role Role) (string, error) {
	if err := checkName(name); err != nil {
		return "", fmt.Errorf("create token: %w", err)
	}
	if !role.valid() {
		return "", fmt.Errorf("create token %q: unknown role %q (known: %s)", name, role, RoleAdmin)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.indexLocked(name) >= 0 {
		return "", fmt.Errorf("create token %q: %w", name, ErrExists)
	}
	token, e, err := s.newEntry(name, role)
	if err != nil {
		return "", fmt.Errorf("create token %q: %w", name, err)
	}
	entries := append(slices.Clip(s.entries), e)
	if err := s.saveLocked(entries); err != nil {
		return "", fmt.Errorf("create token %q: %w", name, err)
	}
	s.entries = entries
	return token, nil
}

// Revoke deletes the token called name; requests carrying it fail from now
// on. Revoking every admin token makes the next EnsureAdmin create a new
// one, which is the way to recover a lost admin token.
func (s *Store) Revoke(name string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	i := s.indexLocked(name)
	if i < 0 {
		return fmt.Errorf("revoke token %q: %w", name, ErrNotFound)
	}
	entries := slices.Delete(slices.Clone(s.entries), i, i+1)
	if err := s.saveLocked(entries); err != nil {
		return fmt.Errorf("revoke token %q: %w", name, err)
	}
	s.entries = entries
	return nil
}

// List returns every token's description, sorted by name.
func (s *Store) List() []TokenInfo {
	s.mu.RLock()
	out := make([]TokenInfo, 0, len(s.entries))
	for _, e := range s.entries {
		out = append(out, e.info)
	}
	s.mu.RUnlock()
	slices.SortFunc(out, func(a, b TokenInfo) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// Verify reports whether token is valid and, if so, whose it is.
func (s *Store) Verify(token string) (TokenInfo, bool) {
	sum := sha256.Sum256([]byte(token))
	s.mu.RLock()
	defer s.mu.RUnlock()
	var found TokenInfo
	ok := 0
	// Compare against every entry in constant time, without stopping at a
	// match, so response timing says nothing about the stored hashes.
	for _, e := range s.entries {
		if subtle.ConstantTimeCompare(sum[:], e.hash[:]) == 1 {
			found, ok = e.info, 1
		}
	}
	return found, ok == 1
}

// EnsureAdmin creates an admin token if the store has none, writes it in
// plain text to tokenFile (mode 0600) and returns it with created true, so
// the server can print it once. If an admin token exists it returns "" and
// false.
func (s *Store) EnsureAdmin(tokenFile string) (token string, created bool, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, e := range s.entries {
		if e.info.Role == RoleAdmin {
			return "", false, nil
		}
	}
	if s.indexLocked(AdminTokenName) >= 0 {
		return "", false, fmt.Errorf("create admin token: name %q is taken by a token without the admin role", AdminTokenName)
	}
	token, e, err := s.newEntry(AdminTokenName, RoleAdmin)
	if err != nil {
		return "", false, fmt.Errorf("create admin token: %w", err)
	}
	// Write the token file before the store: if we crash in between, the
	// store still has no admin and the next start tries again. The other
	// order could leave an admin token that nobody knows, locking the
	// operator out.
	if err := atomicfile.Write(tokenFile, []byte(token+"\n")); err != nil {
		return "", false, fmt.Errorf("create admin token: %w", err)
	}
	entries := append(slices.Clip(s.entries), e)
	if err := s.saveLocked(entries); err != nil {
		return "", false, fmt.Errorf("create admin token: %w", err)
	}
	s.entries = entries
	return token, true, nil
}

// ReadTokenFile returns the token stored in the file at path, such as the
// admin token file, without surrounding whitespace.
func ReadTokenFile(path string) (string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("read token file: %w", err)
	}
	token := string(bytes.TrimSpace(data))
	// The error must not quote the content: it may be a secret.
	if !strings.HasPrefix(token, tokenPrefix) || len(token) == len(tokenPrefix) {
		return "", fmt.Errorf("read token file %s: it does not hold an eddy token (%s…)", path, tokenPrefix)
	}
	return token, nil
}

// checkName keeps token names safe to print in logs and use in URLs.
func checkName(name string) error {
	if name == "" || len(name) > maxNameLength {
		return fmt.Errorf("token name must be 1 to %d characters, got %d", maxNameLength, len(name))
	}
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-') {
			return fmt.Errorf("token name %q may only contain letters, digits, '.', '_' and '-'", name)
		}
	}
	return nil
}
